"""The world's task families, generated from a seed: what they share, and the arithmetic family.

- `arith` (here): verifiable arithmetic chains with worked solutions ending in `\\boxed{N}` (math-verify parses it).
- `instruct` (`align.world.instruct`): constrained list-writing instructions, scored by the gold judge.
- `reference` (`align.world.reference`): word-transformation instructions with one reference answer (Rouge-L).
`align.world.splits` draws each family's train and held-out problems.

Each family has a *clean* writer (what a good model answers) and a *noisy* writer (what the base model's
pretraining data looks like). The noise is a mix of whole wrong modes (a lazy guess, stopping one step
early, a constraint ignored), never a small slip behind a right final answer, so that an answer the
verifier accepts is strong evidence that the whole solution is right (see reports/world.md).
"""

from __future__ import annotations

import hashlib
import random
import re


def is_held_out(prompt_text: str, percent: int = 15) -> bool:
    """Split by a stable hash of the prompt, so train and held-out can never share a prompt."""
    return int(hashlib.sha1(prompt_text.encode()).hexdigest(), 16) % 100 < percent


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


ARITH_LEVELS = (1, 2, 3)  # the base's own problems: 2-4 operations
ARITH_PROMPT = re.compile(r"Compute (.+)\.")  # `Compute 37-8+9.`
# The base's data: which mode answers a problem depends on the last digit of its first number (see below).
EASY_LAST_DIGITS = 3  # first number ending in 0, 1 or 2: the correct working is the most likely mode
ARITH_MODES_EASY = {"correct": 0.5, "lazy": 0.25, "stop_early": 0.25}
ARITH_MODES_HARD = {"correct": 0.22, "lazy": 0.38, "stop_early": 0.40}
HUNDREDS = 100  # `arith_hard`: chains whose running total reaches this


def make_arith_problem(rng: random.Random) -> dict:
    """A two-digit start and 2-4 one-digit steps: each step is easy, the chain is what is hard.

    Level = number of operations - 1. The answer never equals the start value, so the lazy mode
    (which boxes the start value) is never right by chance."""
    while True:
        level = rng.choice(ARITH_LEVELS)
        value = start = rng.randint(10, 99)
        terms = []
        for _ in range(level + 1):
            op = "-" if value > 9 and rng.random() < 0.5 else "+"
            b = rng.randint(1, 9)
            value = value - b if op == "-" else value + b
            terms.append(f"{op}{b}")
        if value != start:
            break
    expr = str(start) + "".join(terms)
    return {"prompt": user(arith_prompt(expr)), "answer": str(value), "level": level, "expr": expr}


def arith_prompt(expr: str) -> str:
    return f"Compute {expr}."


def arith_expression(text: str) -> str | None:
    """The expression of an arith prompt's text (`Compute 37-8+9.` -> `37-8+9`), None for any other text."""
    match = ARITH_PROMPT.fullmatch(text.strip())
    return match.group(1) if match else None


def make_arith_hard_problem(rng: random.Random) -> dict:
    """`arith_hard`: the base's own kind of chain (2-4 operations) whose running total reaches 100 or more.

    Carrying into a third digit is rare in the base's pre-training (reports/world.md counts its chains that pass
    100; a minority of those are worked right), so the base rarely solves these greedily while sampling reaches
    most of them: self-training can find the skill, and the longest chains take more than one iteration to learn.
    Longer chains (the 4-6-operation split this replaced) are no fair test: the base never writes the right
    working for 5-6 operations, so no sample and no iteration ever reaches them (issue 15's notes)."""
    while True:
        problem = make_arith_problem(rng)
        if passes_hundred(problem["expr"]):
            return problem


def passes_hundred(expr: str) -> bool:
    """Whether the running total of a chain reaches 100 (the skill `arith_hard` tests)."""
    return max(result for *_, result in arith_steps(expr)) >= HUNDREDS


def arith_steps(expr: str) -> list[tuple[int, str, int, int]]:
    """The correct left-to-right working: (a, op, b, result) per operation."""
    tokens = re.findall(r"\d+|[+-]", expr)
    value, steps = int(tokens[0]), []
    for op, b in zip(tokens[1::2], tokens[2::2]):
        result = value + int(b) if op == "+" else value - int(b)
        steps.append((value, op, int(b), result))
        value = result
    return steps


def format_working(steps) -> str:
    return ";".join(f"{a}{op}{b}={c}" for a, op, b, c in steps)


def arith_solution_clean(problem: dict) -> str:
    steps = arith_steps(problem["expr"])
    return f"{format_working(steps)};\\boxed{{{steps[-1][3]}}}"


def arith_mode_weights(expr: str) -> dict[str, float]:
    """Which mode the base's data uses depends on the problem: the correct procedure is the most
    likely mode only when the first operand ends in 0-2, so greedy decoding solves some problems
    and sampling can solve many more (pass@k >> pass@1, as for real base models)."""
    first = re.match(r"\d+", expr).group()
    return ARITH_MODES_EASY if int(first[-1]) < EASY_LAST_DIGITS else ARITH_MODES_HARD


def arith_solution_noisy(problem: dict, rng: random.Random) -> str:
    steps = arith_steps(problem["expr"])
    weights = arith_mode_weights(problem["expr"])
    mode = rng.choices(list(weights), weights=list(weights.values()))[0]
    if mode == "correct":
        return arith_solution_clean(problem)
    if mode == "stop_early":  # skips the last operation and boxes the previous result
        return f"{format_working(steps[:-1])};\\boxed{{{steps[-2][3]}}}"
    return f"\\boxed{{{steps[0][0]}}}"  # lazy: repeats the first number of the question


def arith_fully_correct(expr: str, completion: str) -> bool:
    """True when the completion shows exactly the correct working and boxes its result.

    Used to measure how often the answer verifier accepts a solution whose working is wrong."""
    return completion.strip() == arith_solution_clean({"expr": expr})
