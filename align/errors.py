"""One exception type for every user-facing problem: the CLI prints its message and exits non-zero."""

import errno


class AlignError(Exception):
    """A problem with the user's input (recipe, override, data, model path): message says what and where."""


def disk_full(exc: BaseException) -> bool:
    """ENOSPC, however the library that hit it wrapped it (safetensors and torch raise their own types)."""
    while exc is not None:
        if getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
