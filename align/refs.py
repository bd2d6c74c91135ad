"""`${...}` references in recipes, in one place: how they are written, recognised and filled.

- `${key}` names a recipe parameter: the recipe loader fills it in before anything runs.
- `${stage.output}` names an earlier stage's output (`${prev.stage.output}`: the previous iteration's inside a
  repeat block; `${block.*.stage.output}`: every iteration's, as a list): the engine fills it in once that stage
  has run. Until then the value is *deferred*: checks made before the run leave it alone.
- A repeat block runs its stages once per iteration, named `it<N>-<name>` (`iteration_name`).

Stages and scorers only ask `deferred(value)`; the loader and the engine give `fill` their own `lookup`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

REF = re.compile(r"\$\{([^}]+)\}")
KEEP = object()  # what a lookup returns to leave a reference as it is (for a later pass to fill)


def deferred(value) -> bool:
    """A string that still holds a reference: its value exists only once an earlier stage has run."""
    return isinstance(value, str) and REF.search(value) is not None


def iteration_name(iteration: int, name: str) -> str:
    """The name (and run-dir folder) of a repeat block's stage `name` in iteration `iteration` (1-based)."""
    return f"it{iteration}-{name}"


def fill(value, lookup: Callable[[str], object], splice: bool = False):
    """`value` (a config: mappings, lists, strings) with every reference replaced by `lookup(reference)`.

    A string that is one whole reference takes the looked-up value as it is (a number stays a number, a list a
    list); a reference inside longer text is replaced by the value's text. `lookup` returns `KEEP` to leave a
    reference in place. With `splice`, a list item that is one whole reference to a list is replaced by that
    list's items (`[base, "${loop.*.sft.model}"]` becomes one flat list)."""
    if isinstance(value, dict):
        return {key: fill(item, lookup, splice) for key, item in value.items()}
    if isinstance(value, list):
        out = []
        for item in value:
            filled = fill(item, lookup, splice)
            spliced = splice and isinstance(filled, list) and isinstance(item, str)
            out.extend(filled if spliced else [filled])
        return out
    if not isinstance(value, str):
        return value
    whole = REF.fullmatch(value)
    if whole:
        found = lookup(whole.group(1))
        return value if found is KEEP else found

    def text(match: re.Match) -> str:
        found = lookup(match.group(1))
        return match.group(0) if found is KEEP else str(found)

    return REF.sub(text, value)
