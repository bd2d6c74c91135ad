"""User scorers (module:function) for tests, including broken ones."""


def length(prompts, completions, rows):
    return [float(len(c)) for c in completions]


def nan(prompts, completions, rows):
    return [float("nan")] * len(completions)


def text(prompts, completions, rows):
    return ["high"] * len(completions)


def exits(prompts, completions, rows):
    import sys

    sys.exit(0)


def raises(prompts, completions, rows):
    raise KeyError("boom")


def short(prompts, completions, rows):
    return [1.0] * (len(completions) - 1)


def as_array(prompts, completions, rows):
    import numpy

    return numpy.ones(len(completions))


not_callable = 3


def zero(prompts, completions, rows):
    """A verifier that accepts nothing: a task the model cannot yet solve."""
    return [0.0] * len(completions)


def accept(prompts, completions, rows):
    """A verifier that accepts every solution: on a random model an E-step verifies nothing otherwise."""
    return [1.0] * len(completions)


def rating(prompts, completions, rows):
    """A rater that gives every row a 5 (AlpaGasus keeps >= 4.5): on a random model a grader keeps nothing."""
    return [5.0] * len(completions)


def recording(prompts, completions, rows, path: str = ""):
    """Scores 1 per digit in the completion, and appends what it was given to `path` (one JSON line per call)."""
    import json

    scores = [float(sum(ch.isdigit() for ch in c)) for c in completions]
    with open(path, "a") as f:
        f.write(json.dumps({"completions": list(completions), "rows": rows, "scores": scores}) + "\n")
    return scores


def not_applicable(prompts, completions, rows):
    """None (not applicable) for every other completion: online RL accepts it, other stages refuse it."""
    return [None if i % 2 else 1.0 for i in range(len(completions))]
