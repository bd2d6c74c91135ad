"""What each kind of dataset must contain (TRL's conventions), checked row by row before anything trains.

Every problem names the record and what is wrong, so a bad row fails in a second instead of an hour into a run.
"""

from __future__ import annotations

import ast

from align.errors import AlignError

# What each kind of dataset must contain; alternatives are tried in order.
FORMATS = {
    "sft": [("messages",), ("prompt", "completion")],
    "lm": [("text",), ("messages",), ("prompt", "completion")],
    "preference": [("prompt", "chosen", "rejected"), ("chosen", "rejected")],  # TRL's explicit or implicit prompt
    "unpaired": [("prompt", "completion", "label")],  # KTO: one completion, desirable (true) or not (false)
    "verifiable": [("prompt", "answer"), ("prompt", "tests")],
    "prompts": [("prompt",)],
    "prompted": [("prompt",), ("messages",)],  # prompts, or conversations (their last assistant turn answers)
    "teacher": [("prompt",), ("messages",), ("text",)],  # what a teacher labels: prompted rows, or text to score
    "samples": [("prompt", "completion", "sample_index")],
    "any": [()],  # rows copied as they are (split)
}


def stdio_cases(tests) -> list[tuple[str, str]] | None:
    """(input, output) pairs of APPS/CodeContests-style tests, or None when `tests` is not of that shape (Python
    asserts, say). The code verifier reads `tests` with this too, so validation and scoring agree."""
    if isinstance(tests, dict) and isinstance(tests.get("inputs"), list) and isinstance(tests.get("outputs"), list):
        return [(str(i), str(o)) for i, o in zip(tests["inputs"], tests["outputs"])]
    if isinstance(tests, list) and tests and all(isinstance(t, dict) and {"input", "output"} <= set(t) for t in tests):
        return [(str(t["input"]), str(t["output"])) for t in tests]
    return None


TESTS_SHAPE = (
    "'tests' must be Python asserts (a string or a list of strings) or stdin/stdout cases "
    "({inputs, outputs} or a list of {input, output})"
)


def tests_problem(tests) -> str | None:
    """Why a `tests` value cannot judge a program (it would pass any program, or cannot be read), or None.
    Checked when the data is loaded and again by the code verifier, so a degenerate row never scores 1."""
    if isinstance(tests, dict):
        inputs, outputs = tests.get("inputs"), tests.get("outputs")
        if not isinstance(inputs, list) or not isinstance(outputs, list):
            return f"{TESTS_SHAPE}: a dict needs the lists 'inputs' and 'outputs'"
        if len(inputs) != len(outputs):
            return f"'tests' has {len(inputs)} inputs but {len(outputs)} outputs: each input needs its output"
        return None if inputs else "'tests' has no cases: it would pass any program"
    if isinstance(tests, list) and tests and all(isinstance(t, dict) for t in tests):
        missing = [i + 1 for i, t in enumerate(tests) if not {"input", "output"} <= set(t)]
        return f"'tests' case {missing[0]} needs 'input' and 'output'" if missing else None
    if isinstance(tests, list) and all(isinstance(t, str) for t in tests):
        tests = "\n".join(tests)
    if not isinstance(tests, str):
        return f"{TESTS_SHAPE}, got {type(tests).__name__}"
    try:
        tree = ast.parse(tests)
    except SyntaxError as exc:
        return f"'tests' is not valid Python (line {exc.lineno}: {exc.msg})"
    if not any(isinstance(node, (ast.Assert, ast.Raise)) for node in ast.walk(tree)):
        return "'tests' holds no assert: it would pass any program"
    return None


def is_messages(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
        )
    )


def is_text(value) -> bool:
    return isinstance(value, str) or is_messages(value)


def check_row(row: dict, columns: tuple[str, ...]) -> str | None:
    """What is wrong with one row for the given columns, or None."""
    for column in columns:
        value = row[column]
        if column == "messages":
            if not is_messages(value):
                return "'messages' must be a non-empty list of {role, content} objects with string content"
            if not any(m["role"] == "assistant" for m in value):
                return "'messages' has no assistant turn to learn from"
        elif column in ("prompt", "completion", "chosen", "rejected"):
            if not is_text(value):
                return (
                    f"'{column}' must be a string or a list of {{role, content}} messages, got {type(value).__name__}"
                )
        elif column == "text":
            if not isinstance(value, str):
                return f"'text' must be a non-empty string, got {type(value).__name__}"
            if not value.strip():
                return "'text' is empty: there is nothing to learn from"
        elif column == "answer":
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                return f"'answer' must be a string or a number, got {type(value).__name__}"
        elif column == "tests" and (problem := tests_problem(value)):
            return problem
        elif column == "label" and not isinstance(value, bool):
            return f"'label' must be true (desirable) or false (undesirable), got {value!r}"
        elif column == "sample_index" and (not isinstance(value, int) or isinstance(value, bool)):
            return f"'sample_index' must be an integer, got {type(value).__name__}"
    if "chosen" in columns and row["chosen"] == row["rejected"]:
        return "'chosen' and 'rejected' are identical: the pair carries no preference"
    return None


def validate(rows: list[dict], kind: str, source: str) -> list[dict]:
    """Raise on the first bad record; return the rows unchanged when all are fine."""
    if not rows:
        raise AlignError(f"{source}: the dataset is empty")
    options = FORMATS[kind]
    for index, row in enumerate(rows):
        matching = [cols for cols in options if all(c in row for c in cols)]
        if not matching:
            wanted = " or ".join("/".join(cols) for cols in options)
            raise AlignError(
                f"{source}: record {index + 1}: missing column(s) for a {kind} dataset: "
                f"needs {wanted}, has {sorted(row)}"
            )
        problem = check_row(row, matching[0])
        if problem:
            raise AlignError(f"{source}: record {index + 1}: {problem}")
    return rows
