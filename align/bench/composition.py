"""What a set of corpus rows is made of: each row's task family and whether its answer is right.

`world:corpus` mixes right and wrong answers of the three task families; a quality filter should keep more of
the right ones. The world knows the answers (arith: the worked solution; instruct: the gold judge's checks;
reference: the transformation), so the share of right rows in a filter's kept set shows what the filter found.
"""

from __future__ import annotations

from align.data.rows import completion_text, prompt_text
from align.world import instruct, reference, tasks


def family_and_right(row: dict) -> tuple[str, bool]:
    from align.world.gold_judge import gold_score

    prompt = prompt_text(row["prompt"], roles=False)
    answer = completion_text(row["completion"]).strip()
    if expr := tasks.arith_expression(prompt):
        return "arith", tasks.arith_fully_correct(expr, answer)
    if (constraints := instruct.constraints_from_prompt(prompt)) is not None:
        return "instruct", gold_score(constraints, answer) == 1.0
    op, _, words = prompt.partition(": ")
    if op in reference.REFERENCE_OPS:
        return "reference", answer == " ".join(reference.REFERENCE_OPS[op](words.split()))
    return "other", False


def composition(rows: list[dict]) -> dict[str, float]:
    """Shares of each family, and the share of rows whose answer is right (overall and per family)."""
    labels = [family_and_right(r) for r in rows]
    out = {"rows": len(rows), "right": sum(ok for _, ok in labels) / len(rows)}
    for family in ("arith", "instruct", "reference"):
        mine = [ok for f, ok in labels if f == family]
        out[family] = len(mine) / len(rows)
        out[f"right_{family}"] = sum(mine) / len(mine) if mine else 0.0
    return out


def instruct_failures(rows: list[dict]) -> dict[str, float]:
    """For instruction rows (an evaluate stage's records, or pairs' chosen/rejected flattened to prompt +
    completion): the share that breaks each gold-judge check, among the rows where that check applies. Which
    constraints a policy still breaks says what its remaining training signal must teach."""
    from align.world.gold_judge import constraint_checks

    broken: dict[str, int] = {}
    applies: dict[str, int] = {}
    for row in rows:
        constraints = row.get("constraints") or instruct.constraints_from_prompt(
            prompt_text(row["prompt"], roles=False)
        )
        if constraints is None:
            continue
        for check, ok in constraint_checks(constraints, completion_text(row["completion"]).strip()).items():
            applies[check] = applies.get(check, 0) + 1
            broken[check] = broken.get(check, 0) + (not ok)
    return {check: broken[check] / applies[check] for check in sorted(applies)}


def arith_working(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per operation count (and "all"): rows, the share whose completion shows exactly the right working, and the
    mean `score` where rows carry one (an evaluate stage's greedy pass@1). Of a `select` stage's kept samples,
    the right-working share is the answer verifier's precision: a right answer reached by wrong working passes it."""

    groups: dict[str, list[tuple[bool, float | None]]] = {}
    for row in rows:
        expr = tasks.arith_expression(prompt_text(row["prompt"], roles=False))
        if not expr:
            continue
        right = tasks.arith_fully_correct(expr, completion_text(row["completion"]))
        for key in ("all", str(len(tasks.arith_steps(expr)))):
            groups.setdefault(key, []).append((right, row.get("score")))
    return {
        key: {
            "rows": len(found),
            "right_working": sum(r for r, _ in found) / len(found),
            **({"score": sum(s for _, s in found) / len(found)} if found[0][1] is not None else {}),
        }
        for key, found in sorted(groups.items())
    }
