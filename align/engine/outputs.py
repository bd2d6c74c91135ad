"""What the finished stages of a run produced, and what a `${stage.output}` reference names among it.

`${sft.model}` is stage `sft`'s output `model`; inside a repeat block `${sample.data}` is this iteration's
`sample` and `${prev.sft.model}` the previous iteration's (the block's `initial` mapping in iteration 1). After a
block, `${rest.sft.model}` is its last iteration that ran and `${rest.*.sft.model}` the list of every iteration
that ran (a loop may stop early). A stage's hash covers the hashes of the stages it read, so the engine records
which ones each reference named.
"""

from __future__ import annotations

from pathlib import Path

from align.engine.recipe import StagePlan
from align.errors import AlignError
from align.refs import REF, fill
from align.stages import stage_module


class Outputs:
    def __init__(self, plans: list[StagePlan]):
        self.plans = plans
        self.values: dict[str, dict] = {}  # stage name -> its outputs (absolute paths) and values
        self.hashes: dict[str, str] = {}  # stage name -> its inputs hash, for the stages that read it
        self.blocks = {plan.block for plan in plans if plan.block}

    def record(self, name: str, stage_dir: Path, info: dict, digest: str) -> None:
        """A finished (or reused) stage's outputs, as recorded in its stage.json."""
        outputs = {key: str(stage_dir / rel) for key, rel in info.get("outputs", {}).items()}
        self.values[name] = {**info.get("values", {}), **outputs}
        self.hashes[name] = digest

    def resolve(self, value, plan: StagePlan, deps: set[str]):
        """`value` with every `${stage.output}` filled in; the stages it names are added to `deps`."""
        return fill(value, lambda ref: self.lookup(ref, plan, deps), splice=True)

    def lookup(self, ref: str, plan: StagePlan, deps: set[str]):
        parts = ref.split(".")
        if parts[0] == "prev":
            earlier = (plan.aliases.get("prev") or {}).get(parts[1]) if len(parts) > 2 else None
            if earlier is None:
                return self.initial(ref, plan, deps)
            stage, rest = earlier, parts[2:]
        elif parts[0] in plan.aliases and isinstance(plan.aliases[parts[0]], str):
            stage, rest = plan.aliases[parts[0]], parts[1:]
        elif parts[0] in self.blocks and len(parts) == 4 and parts[1] == "*":
            names = self.iterations_that_ran(parts[0], parts[2])
            return [self.lookup(f"{name}.{parts[3]}", StagePlan(plan.name, plan.type, {}), deps) for name in names]
        elif parts[0] in self.blocks and len(parts) > 2:
            names = self.iterations_that_ran(parts[0], parts[1]) or self.iterations(parts[0], parts[1])
            stage, rest = (names[-1] if names else parts[1]), parts[2:]
        else:
            stage, rest = parts[0], parts[1:]
        if stage not in self.values:
            raise AlignError(f"stage {plan.name!r} refers to ${{{ref}}}, but {stage!r} is not an earlier stage")
        if len(rest) != 1 or rest[0] not in self.values[stage]:
            raise AlignError(
                f"stage {plan.name!r} refers to ${{{ref}}}: stage {stage!r} has outputs {sorted(self.values[stage])}"
            )
        deps.add(stage)
        return self.values[stage][rest[0]]

    def initial(self, ref: str, plan: StagePlan, deps: set[str]):
        """`${prev.x.y}` in iteration 1: the repeat block's `initial: {x.y: ...}` value."""
        initial = plan.aliases.get("initial", {})
        key = ref.removeprefix("prev.")
        if key not in initial:
            raise AlignError(
                f"stage {plan.name!r}: ${{{ref}}} has no value in iteration 1: "
                f"add `initial: {{{key}: ...}}` to the repeat block"
            )
        return self.resolve(initial[key], plan, deps)

    def iterations(self, block: str, inner: str) -> list[str]:
        """`block`'s instances of its stage `inner`, iteration by iteration."""
        return [p.name for p in self.plans if p.block == block and p.inner == inner]

    def iterations_that_ran(self, block: str, inner: str) -> list[str]:
        return [name for name in self.iterations(block, inner) if name in self.values]


def strings(value):
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


def referenced(ref: str, plan: StagePlan, plans: list[StagePlan]) -> tuple[StagePlan, str] | None:
    """The stage plan a `${...}` names (any iteration of it, for loops) and the output it reads; None when the
    reference is not to a stage's output (the run-time lookup reports those)."""
    parts, by_name = ref.split("."), {p.name: p for p in plans}

    def inner(block, name):
        return next((p for p in plans if p.block == block and p.inner == name), None)

    if parts[0] == "prev" and len(parts) == 3:
        target, output = inner(plan.block, parts[1]), parts[2]
    elif isinstance(plan.aliases.get(parts[0]), str) and len(parts) == 2:
        target, output = by_name.get(plan.aliases[parts[0]]), parts[1]
    elif len(parts) == 4 and parts[1] == "*":
        target, output = inner(parts[0], parts[2]), parts[3]
    elif len(parts) == 3:
        target, output = inner(parts[0], parts[1]), parts[2]
    elif len(parts) == 2:
        target, output = by_name.get(parts[0]), parts[1]
    else:
        return None
    return (target, output) if target else None


def check_references(plans: list[StagePlan]) -> None:
    """Before the run: every `${stage.NAME}` names an output that stage's type can produce, so a typo'd or wrong
    output (`${eval.model}`) fails now, not after the earlier stages ran."""
    for plan in plans:
        for ref in (m.group(1) for text in strings(plan.config) for m in REF.finditer(text)):
            found = referenced(ref, plan, plans)
            if found is None:
                continue
            target, output = found
            module = stage_module(target.type)
            if not hasattr(module, "outputs"):
                continue
            try:
                names = module.outputs(module.Config(**target.config))
            except Exception:  # an invalid config is reported by the input checks, with its own message
                continue
            if output not in names:
                raise AlignError(
                    f"stage {plan.name!r} refers to ${{{ref}}}, but stage {target.inner or target.name!r} "
                    f"({target.type}) has no output {output!r}: it has {sorted(names)}"
                )
