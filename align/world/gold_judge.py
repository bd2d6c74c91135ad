"""The embedded world's gold judge: a rule-based stand-in for the human/GPT-4 annotator.

It reads the constraints stored with each `instruct` row and returns the fraction of checks the
completion passes, in [0, 1]. It labels preference pairs (the Xwin-Pair analogue) and decides
pairwise win-rates (the AlpacaEval analogue).
"""

from __future__ import annotations

from align.data.rows import prompt_text
from align.world.instruct import CASES, CATEGORIES, constraints_from_prompt


def parse_items(completion: str) -> list[str]:
    return [item.strip() for item in completion.strip().split(",") if item.strip()]


def constraint_checks(constraints: dict, completion: str) -> dict[str, bool]:
    """One boolean per check that applies to this instruction."""
    items = parse_items(completion)
    lowered = [item.lower() for item in items]
    vocabulary = set(CATEGORIES[constraints["category"]])
    checks = {
        "count": len(items) == constraints["count"],
        "category": bool(items) and all(item in vocabulary for item in lowered),
        "distinct": len(set(lowered)) == len(lowered),
    }
    if constraints.get("case"):
        convert = CASES[constraints["case"]]
        checks["case"] = bool(items) and all(item == convert(item) for item in items)
    if constraints.get("sorted"):
        checks["sorted"] = bool(items) and lowered == sorted(lowered)
    if constraints.get("exclude"):
        checks["exclude"] = constraints["exclude"] not in lowered
    return checks


def gold_score(constraints: dict, completion: str) -> float:
    checks = constraint_checks(constraints, completion)
    return sum(checks.values()) / len(checks)


def score(prompts, completions, rows) -> list[float]:
    """Scorer interface: the row's `constraints` column (the world's instruct datasets have it), else the
    constraints the prompt states when it is one of the world's instructions (e.g. world:sft_crowd)."""
    out = []
    for prompt, completion, row in zip(prompts, completions, rows):
        constraints = row.get("constraints")
        if not isinstance(constraints, dict):
            constraints = constraints_from_prompt(prompt_text(prompt, roles=False))
        if constraints is None:
            raise ValueError(
                "gold_judge needs a 'constraints' column or one of the world's instructions as the "
                "prompt (a world:instruct_* or world:sft* dataset)"
            )
        out.append(gold_score(constraints, completion))
    return out
