"""User scorers (module:function) for tests, including broken ones."""


def length(prompts, completions, rows):
    return [float(len(c)) for c in completions]


def nan(prompts, completions, rows):
    return [float("nan")] * len(completions)


def text(prompts, completions, rows):
    return ["high"] * len(completions)
