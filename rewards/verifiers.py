"""Binary verifiers for problems with a known answer: `math` (math-verify), `exact`, `regex`."""

from __future__ import annotations

import re
import string
import threading

from math_verify import parse, verify


def math_correct(answer: str, completion: str, boxed_only: bool = False) -> bool:
    """math-verify: the gold answer and the completion's final answer are the same value. math-verify also reads
    an answer that is not boxed (the text's last number, say); `boxed_only` counts only the last `\\boxed{...}`, so
    a policy whose answer format breaks is not rewarded for the number its working ends on.

    math-verify's timeout uses signals, which only work in the main thread: elsewhere it is off."""
    if boxed_only and (completion := last_boxed(completion)) is None:
        return False
    timeout = {} if threading.current_thread() is threading.main_thread() else {"parsing_timeout": None}
    gold = parse(answer if "\\boxed" in answer else f"\\boxed{{{answer}}}", **timeout)
    predicted = parse(completion, **timeout)
    verify_timeout = {} if not timeout else {"timeout_seconds": None}
    return bool(predicted) and verify(gold, predicted, **verify_timeout)


def last_boxed(text: str) -> str | None:
    """The last well-formed `\\boxed{...}` (balanced braces) in the text, or None."""
    start = text.rfind("\\boxed{")
    while start != -1:
        depth = 0
        for end in range(start + len("\\boxed"), len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                return text[start : end + 1]
        start = text.rfind("\\boxed{", 0, start)
    return None


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and articles, squeeze whitespace (the SQuAD normalisation)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _answers(rows) -> list[str]:
    out = []
    for row in rows:
        if "answer" not in row or row["answer"] is None:
            raise ValueError("this verifier needs an 'answer' column")
        out.append(str(row["answer"]))
    return out


def math(prompts, completions, rows, boxed_only: bool = False) -> list[float]:
    return [float(math_correct(a, c, boxed_only)) for a, c in zip(_answers(rows), completions)]


def exact(prompts, completions, rows) -> list[float]:
    return [float(normalize(a) == normalize(c)) for a, c in zip(_answers(rows), completions)]


def regex(prompts, completions, rows) -> list[float]:
    """The row's `answer` is a regular expression that the whole completion must match."""
    return [float(re.fullmatch(a, c.strip()) is not None) for a, c in zip(_answers(rows), completions)]
