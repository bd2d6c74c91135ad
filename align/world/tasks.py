"""The world's three task families, generated from a seed.

- `arith`: verifiable arithmetic chains with worked solutions ending in `\\boxed{N}` (math-verify parses it).
- `instruct`: constrained list-writing instructions, scored by the gold judge (`rewards.gold_judge`).
- `reference`: word-transformation instructions with one reference answer, scored by Rouge-L.

Each family has a *clean* writer (what a good model answers) and a *noisy* writer (what the base model's
pretraining data looks like). The noise is a mix of whole wrong modes (a lazy guess, stopping one step
early, a constraint ignored), never a small slip behind a right final answer, so that an answer the
verifier accepts is strong evidence that the whole solution is right (see reports/world.md).
"""

from __future__ import annotations

import hashlib
import random
import re

CATEGORIES = {
    "fruits": ["apple", "pear", "fig", "plum", "lime", "kiwi", "mango", "grape"],
    "animals": ["cat", "dog", "owl", "fox", "bee", "cow", "yak", "eel"],
    "colors": ["red", "blue", "green", "pink", "gray", "gold", "teal", "tan"],
    "tools": ["saw", "axe", "drill", "file", "rake", "hoe", "vise", "awl"],
    "vehicles": ["car", "bus", "van", "jet", "ship", "bike", "cab", "tram"],
    "body parts": ["arm", "leg", "eye", "ear", "nose", "hand", "toe", "lip"],
}
ALL_WORDS = sorted({w for words in CATEGORIES.values() for w in words})
CASES = {"upper": str.upper, "lower": str.lower, "title": str.title}


def is_held_out(prompt_text: str, percent: int = 15) -> bool:
    """Split by a stable hash of the prompt, so train and held-out can never share a prompt."""
    return int(hashlib.sha1(prompt_text.encode()).hexdigest(), 16) % 100 < percent


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def assistant(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


# ----------------------------------------------------------------------------------------------- arith

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


# -------------------------------------------------------------------------------------------- instruct


def make_instruct_problem(rng: random.Random) -> dict:
    category = rng.choice(sorted(CATEGORIES))
    count = rng.randint(1, 5)
    case = rng.choice([None, "upper", "lower", "title"])
    is_sorted = count > 1 and rng.random() < 0.5
    exclude = rng.choice(CATEGORIES[category]) if rng.random() < 0.5 else None
    parts = [f"List {count} {category}"]
    if case:
        parts.append(f"in {case} case")
    if is_sorted:
        parts.append("sorted")
    if exclude:
        parts.append(f"without {exclude}")
    constraints = {"count": count, "category": category, "case": case, "sorted": is_sorted, "exclude": exclude}
    return {"prompt": user(", ".join(parts) + "."), "constraints": constraints}


INSTRUCTION = re.compile(r"List (\d+) ([a-z ]+?)(?:, in (upper|lower|title) case)?(, sorted)?(?:, without ([a-z]+))?\.")


def constraints_from_prompt(text: str) -> dict | None:
    """The constraints an instruction states (the inverse of `make_instruct_problem`), or None when the text is
    not one of the world's instructions: lets the gold judge score rows that carry no `constraints` column."""
    match = INSTRUCTION.fullmatch(text.strip())
    if not match or match.group(2) not in CATEGORIES:
        return None
    count, category, case, is_sorted, exclude = match.groups()
    return {"count": int(count), "category": category, "case": case, "sorted": bool(is_sorted), "exclude": exclude}


def instruct_response(constraints: dict, rng: random.Random, violations: set[str] = frozenset()) -> str:
    """Write a list that meets the constraints, except those named in `violations`."""
    c = constraints
    pool = [w for w in CATEGORIES[c["category"]] if w != c["exclude"]]
    count = c["count"]
    if "count" in violations:
        count = count + 1 if count == 1 or rng.random() < 0.5 else count - 1
    words = rng.sample(pool, count)
    if "exclude" in violations and c["exclude"]:
        words[rng.randrange(len(words))] = c["exclude"]
    if "category" in violations:
        other = rng.choice([k for k in CATEGORIES if k != c["category"]])
        words[rng.randrange(len(words))] = rng.choice(CATEGORIES[other])
    if c["sorted"]:
        words.sort()
        if "sorted" in violations and len(set(words)) > 1:
            words.reverse()
    case = c["case"] or rng.choice(list(CASES))
    if "case" in violations and c["case"]:
        case = rng.choice([k for k in CASES if k != c["case"]])
    return ", ".join(CASES[case](w) for w in words)


INSTRUCT_NOISE = {"count": 0.3, "case": 0.35, "sorted": 0.4, "exclude": 0.4, "category": 0.2}  # P(ignored)


def instruct_response_noisy(constraints: dict, rng: random.Random) -> str:
    """Each constraint is ignored with some probability: the base follows instructions loosely."""
    rates = INSTRUCT_NOISE
    violations = {name for name, p in rates.items() if rng.random() < p}
    return instruct_response(constraints, rng, violations)


# Which constraint the crowd's demonstrations habitually ignore depends on the category, like the
# arith modes depend on the first operand: greedy decoding of a policy trained on these demos breaks
# the habit constraint on most prompts of that category, while its samples follow it often enough that
# best-of-N finds a compliant answer. That is the headroom RS and DPO are meant to take.
HABITS = {
    "fruits": "case",
    "animals": "case",
    "colors": "count",
    "tools": "count",
    "vehicles": "sorted",
    "body parts": "sorted",
}
OPPOSITE_CASE = {"upper": "lower", "lower": "upper", "title": "lower"}


HABIT_RATE, OTHER_RATE = 0.65, 0.1  # how often a crowd demo ignores its category's habit / any other constraint


def instruct_violation_rates(constraints: dict, habit_rate: float = HABIT_RATE, other_rate: float = OTHER_RATE) -> dict:
    """Per-constraint probability that a crowd demonstration ignores it."""
    habit = HABITS[constraints["category"]]
    names = ("count", "case", "sorted", "exclude")
    return {name: habit_rate if name == habit else other_rate for name in names}


def instruct_response_mixed(constraints: dict, rng: random.Random) -> str:
    """A crowd-written demonstration (the SFT data of mixed quality that Xwin-style RS and DPO improve on).

    Crowd writers list a category's most typical words first (its order in CATEGORIES), so a policy
    trained on these demos has one clear answer per prompt and no reason to repeat itself; each ignored
    constraint is one clear alternative mode: the opposite case, descending order, the excluded word
    written first, one item too many."""
    c = constraints
    rates = instruct_violation_rates(c)
    broken = {name for name, p in rates.items() if rng.random() < p}
    count = c["count"]
    if "count" in broken:  # always one too many: a single clear alternative, as for case and order
        count += 1
    pool = [w for w in CATEGORIES[c["category"]] if w != c["exclude"]]
    words = pool[:count]
    if "exclude" in broken and c["exclude"]:
        words = [c["exclude"]] + pool[: count - 1]
    if c["sorted"]:
        words.sort(reverse="sorted" in broken)
    case = c["case"] or rng.choice(list(CASES))
    if "case" in broken and c["case"]:
        case = OPPOSITE_CASE[c["case"]]
    return ", ".join(CASES[case](w) for w in words)


# ------------------------------------------------------------------------------------------- reference

REFERENCE_OPS = {
    "Reverse": lambda ws: ws[::-1],
    "Sort": sorted,
    "Double": lambda ws: [w for w in ws for _ in (0, 1)],
    "Drop first": lambda ws: ws[1:],
}


def make_reference_problem(rng: random.Random) -> dict:
    op = rng.choice(list(REFERENCE_OPS))
    words = rng.sample(ALL_WORDS, rng.randint(3, 5))
    reference = " ".join(REFERENCE_OPS[op](words))
    return {"prompt": user(f"{op}: {' '.join(words)}"), "completion": assistant(reference), "words": words, "op": op}


# The base's reference answers: a roll below each bound picks that error (echo 20%, drop 15%, replace 15%).
REFERENCE_NOISE = {"echo": 0.2, "drop": 0.35, "replace": 0.5}


def reference_response_noisy(problem: dict, rng: random.Random) -> str:
    """Mostly right, sometimes a word dropped, swapped for another, or the input echoed back."""
    words = REFERENCE_OPS[problem["op"]](list(problem["words"]))
    roll = rng.random()
    if roll < REFERENCE_NOISE["echo"]:
        words = list(problem["words"])  # echoes the input instead of transforming it
    elif roll < REFERENCE_NOISE["drop"] and len(words) > 1:
        del words[rng.randrange(len(words))]
    elif roll < REFERENCE_NOISE["replace"]:
        words[rng.randrange(len(words))] = rng.choice(ALL_WORDS)
    return " ".join(words)


FAMILIES = {
    "arith": make_arith_problem,
    "arith_hard": make_arith_hard_problem,
    "instruct": make_instruct_problem,
    "reference": make_reference_problem,
}


def generate_split(family: str, seed: int, n_train: int, n_test: int) -> tuple[list[dict], list[dict]]:
    """Unique problems of one family, split train/held-out by prompt hash; deterministic per seed."""
    rng = random.Random(f"{family}-{seed}")
    make = FAMILIES[family]
    train, test, seen = [], [], set()
    attempts = 0
    while len(train) < n_train or len(test) < n_test:
        attempts += 1
        if attempts > 50 * (n_train + n_test) + 1000:
            raise RuntimeError(f"cannot draw {n_train}+{n_test} unique {family} problems")
        problem = make(rng)
        text = problem["prompt"][0]["content"]
        if text in seen:
            continue
        seen.add(text)
        bucket = test if is_held_out(text) else train
        limit = n_test if bucket is test else n_train
        if len(bucket) < limit:
            bucket.append(problem)
    return train, test
