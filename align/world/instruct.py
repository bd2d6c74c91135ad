"""The `instruct` family: constrained list-writing instructions (`List 3 fruits, in upper case, sorted, without
fig.`), scored by the gold judge (`align.world.gold_judge`). A clean writer meets every constraint; the base's
noisy writer ignores each with some probability; the crowd's writer (the Xwin pipeline's SFT data) has one habit per
category."""

from __future__ import annotations

import random
import re

from align.world.tasks import user

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
