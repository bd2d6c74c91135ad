"""One exception type for every user-facing problem: the CLI prints its message and exits non-zero."""


class AlignError(Exception):
    """A problem with the user's input (recipe, override, data, model path): message says what and where."""
