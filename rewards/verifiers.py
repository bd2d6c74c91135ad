"""Binary verifiers for problems with a known answer: `math` (math-verify), `exact`, `regex`."""

from __future__ import annotations

import re
import string
import threading

from math_verify import parse, verify


def math_correct(answer: str, completion: str) -> bool:
    """math-verify: the gold answer and the completion's final answer are the same value.

    math-verify's timeout uses signals, which only work in the main thread: elsewhere it is off."""
    timeout = {} if threading.current_thread() is threading.main_thread() else {"parsing_timeout": None}
    gold = parse(answer if "\\boxed" in answer else f"\\boxed{{{answer}}}", **timeout)
    predicted = parse(completion, **timeout)
    verify_timeout = {} if not timeout else {"timeout_seconds": None}
    return bool(predicted) and verify(gold, predicted, **verify_timeout)


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


def math(prompts, completions, rows) -> list[float]:
    return [float(math_correct(a, c)) for a, c in zip(_answers(rows), completions)]


def exact(prompts, completions, rows) -> list[float]:
    return [float(normalize(a) == normalize(c)) for a, c in zip(_answers(rows), completions)]


def regex(prompts, completions, rows) -> list[float]:
    """The row's `answer` is a regular expression that the whole completion must match."""
    return [float(re.fullmatch(a, c.strip()) is not None) for a, c in zip(_answers(rows), completions)]
