"""Recipes: YAML in, a validated plan of stages out, before anything runs.

A recipe is plain YAML:

    name: sft
    description: one line for `align recipes`
    seed: 0
    model: world:base              # any top-level key is a parameter, overridable as key=value
    stages:                        # in order; each has `stage:` (its type) and that stage's config
      sft: {stage: sft, model: ${model}, data: world:sft}
      eval_sft: {stage: evaluate, model: ${sft.model}}
      loop:                        # a repeat block: per-iteration stages it1-sample, it2-sample, ...
        repeat: 2
        initial: {sft.model: ${model}}     # what ${prev.sft.model} means in iteration 1
        stages: {...}
    smoke: {stages.sft.max_steps: 5}     # overrides applied by --smoke

A recipe may start from another: `extends: dpkd` (a recipe name, or a path relative to this file) takes that
recipe whole, then this file's keys: parameters and `smoke` entries override, stages are appended after the
parent's, a stage of the same name replaces the parent's, and `name: null` under `stages` removes one.

`${key}` names a top-level value and is filled in at load time; `${stage.output}` names an earlier
stage's output and is filled in by the engine when that stage has run; inside a repeat block,
`${prev.stage.output}` is the previous iteration's output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from align.engine.recipe_files import find_recipe, no_stage_to_drop, read_recipe_doc
from align.errors import AlignError
from align.refs import KEEP, fill, iteration_name
from align.stages import STAGES, stage_module

RESERVED = {"name", "description", "seed", "stages", "smoke", "tracking", "wandb_project", "extends"}
STAGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")  # a stage's name is its dir name in the run


@dataclass
class StagePlan:
    """One stage instance to run: its unique name (with `itN-` inside loops) and raw config."""

    name: str
    type: str
    config: dict
    iteration: int | None = None
    block: str | None = None  # the repeat block it belongs to
    inner: str | None = None  # its name inside that block (`sample` for it2-sample)
    aliases: dict = field(default_factory=dict)  # ref prefix -> concrete stage name, for this instance
    raw: dict = field(default_factory=dict)  # the config as written, before `${key}` substitution


@dataclass
class Recipe:
    name: str
    description: str
    seed: int
    tracking: str
    wandb_project: str
    params: dict
    stages: list[StagePlan]
    resolved: dict  # the whole recipe after overrides and ${key} substitution: saved as recipe.yaml


def parse_override(text: str) -> tuple[list[str], object]:
    if "=" not in text:
        raise AlignError(f"override {text!r} is not key=value")
    key, _, raw = text.partition("=")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def apply_override(doc: dict, path: list[str], value, source: str) -> None:
    """Set a dotted key; the parent must exist, and so must the key unless it is a stage setting."""
    node = doc
    for depth, part in enumerate(path[:-1]):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(path[: depth + 1])
            if depth == 1 and path[0] == "stages":
                raise AlignError(
                    f"{source}: unknown stage {part!r} in {'.'.join(path)} (stages: {', '.join(doc['stages'])})"
                )
            raise AlignError(f"{source}: unknown recipe key {where!r}")
        node = node[part]
    leaf = path[-1]
    in_stage = len(path) >= 3 and path[0] == "stages"
    if value is None and is_stage_key(path) and isinstance(node, dict):
        if leaf not in node:
            raise AlignError(no_stage_to_drop(source, leaf, node))
        del node[leaf]  # `stages.NAME=null` drops the stage, as `name: null` does under `extends`
        return
    if not isinstance(node, dict) or (leaf not in node and not in_stage):
        raise AlignError(f"{source}: unknown recipe key {'.'.join(path)!r}")
    node[leaf] = value  # an unknown stage setting is caught by that stage's schema


def is_stage_key(path: list[str]) -> bool:
    """`stages.NAME`, or `stages.BLOCK.stages.NAME` inside a repeat block: a stage's own key, not a setting."""
    return len(path) >= 2 and path[0] == "stages" and (len(path) == 2 or path[-2] == "stages")


def substitute(value, params: dict, stage_names: set[str]):
    """Fill `${key}` from top-level params; leave `${stage.output}` and `${prev...}` for the engine."""

    def lookup(ref: str):
        head = ref.split(".")[0]
        if head in stage_names or head == "prev":
            return KEEP  # resolved by the engine once that stage has run
        node = params
        for part in ref.split("."):
            if not isinstance(node, dict) or part not in node:
                raise AlignError(f"recipe refers to ${{{ref}}}, which is not a recipe key or stage")
            node = node[part]
        return fill(node, lookup)

    return fill(value, lookup)


def expand(stages: dict, source: str) -> list[StagePlan]:
    """Flatten repeat blocks into per-iteration stage instances."""
    plans: list[StagePlan] = []
    for name, spec in stages.items():
        if not isinstance(spec, dict):
            raise AlignError(f"{source}: stage {name!r} must be a mapping")
        if "repeat" in spec:
            extra = set(spec) - {"repeat", "stages", "initial"}
            if extra or not isinstance(spec.get("stages"), dict):
                raise AlignError(
                    f"{source}: repeat block {name!r} needs `repeat` and `stages` (unknown keys: {sorted(extra)})"
                )
            count = spec["repeat"]
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise AlignError(f"{source}: {name}.repeat must be a positive integer, got {count!r}")
            inner = list(spec["stages"])
            for it in range(1, count + 1):
                for child in expand(spec["stages"], source):
                    aliases = {s: iteration_name(it, s) for s in inner}
                    aliases["prev"] = {s: iteration_name(it - 1, s) for s in inner} if it > 1 else None
                    plans.append(
                        StagePlan(
                            iteration_name(it, child.name),
                            child.type,
                            child.config,
                            it,
                            name,
                            child.name,
                            {**aliases, "initial": spec.get("initial", {})},
                        )
                    )
            continue
        if "stage" not in spec:
            raise AlignError(f"{source}: stage {name!r} has no `stage:` type")
        config = {k: v for k, v in spec.items() if k != "stage"}
        plans.append(StagePlan(name, spec["stage"], config))
    return plans


def load_recipe(name_or_path: str, overrides: list[str] = (), smoke: bool = False) -> Recipe:
    path = find_recipe(name_or_path)
    try:
        return build_recipe(path, overrides, smoke)
    except RecursionError:
        raise AlignError(
            f"{path}: the recipe refers to itself: a YAML anchor that contains itself, or "
            f"${{...}} parameters that refer to each other in a cycle"
        ) from None


def build_recipe(path: Path, overrides: list[str], smoke: bool) -> Recipe:
    source = str(path)
    doc = read_recipe_doc(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("stages"), dict) or not doc["stages"]:
        raise AlignError(f"{source}: a recipe is a mapping with a non-empty `stages:` mapping")
    doc.setdefault("seed", 0)
    doc.setdefault("tracking", "wandb")
    doc.setdefault("wandb_project", "align")
    if smoke:
        for key, value in (doc.get("smoke") or {}).items():
            apply_override(doc, key.split("."), value, f"{source} (smoke)")
    for override in overrides:  # "key=value" text is YAML; a (key, value) pair from Python is taken as it is
        key_path, value = (
            parse_override(override) if isinstance(override, str) else (override[0].split("."), override[1])
        )
        apply_override(doc, key_path, value, "override")
    if not isinstance(doc["stages"], dict) or not doc["stages"]:
        raise AlignError(f"override: `stages` must stay a non-empty mapping of stages, got {doc['stages']!r}")
    if doc["tracking"] not in ("wandb", "none"):
        raise AlignError(f"tracking must be 'wandb' or 'none', got {doc['tracking']!r}")
    if not isinstance(doc["seed"], int) or isinstance(doc["seed"], bool):
        raise AlignError(f"seed must be an integer, got {doc['seed']!r}")

    def names(stages: dict) -> set[str]:
        out = set(stages)
        for spec in stages.values():
            if isinstance(spec, dict) and isinstance(spec.get("stages"), dict):
                out |= names(spec["stages"])
        return out

    stage_names = names(doc["stages"])
    params = {k: v for k, v in doc.items() if k not in ("stages", "smoke")}
    clash = stage_names & set(params)
    if clash:
        raise AlignError(f"{source}: stage names must differ from recipe keys: {sorted(clash)}")
    resolved = {**params, "stages": substitute(doc["stages"], params, stage_names)}
    resolved = {k: substitute(v, params, stage_names) if k != "stages" else v for k, v in resolved.items()}
    plans = expand(resolved["stages"], source)
    for plan in plans:
        plan.raw = written_config(doc["stages"], plan)
    validate_names(plans, source)
    validate_stages(plans)
    return Recipe(
        name=str(doc.get("name", path.stem)),
        description=str(doc.get("description", "")),
        seed=doc["seed"],
        tracking=doc["tracking"],
        wandb_project=str(doc["wandb_project"]),
        params=params,
        stages=plans,
        resolved=resolved,
    )


def written_config(stages: dict, plan: StagePlan) -> dict:
    """A stage's config as the recipe (with overrides) wrote it, to tell the user where a bad value came from."""
    try:
        spec = stages[plan.block]["stages"][plan.inner] if plan.block else stages[plan.name]
    except (KeyError, TypeError):
        return {}
    return {k: v for k, v in spec.items() if k != "stage"} if isinstance(spec, dict) else {}


def validate_names(plans: list[StagePlan], source: str) -> None:
    """Stage names become dir names: they must be safe and unique after repeat blocks are expanded."""
    seen: set[str] = set()
    for plan in plans:
        if not STAGE_NAME.fullmatch(plan.name) or plan.name == "wandb":
            raise AlignError(
                f"{source}: stage name {plan.name!r} must be letters, digits, '_' or '-' "
                f"(it names the stage's dir) and not 'wandb'"
            )
        if plan.name in seen:
            raise AlignError(
                f"{source}: two stages are named {plan.name!r} (a repeat block names its stages "
                f"it<N>-<name>): rename one"
            )
        seen.add(plan.name)


def validate_stages(plans: list[StagePlan]) -> None:
    """Every stage type exists and every config matches its schema, before anything runs."""
    for plan in plans:
        if plan.type not in STAGES:
            raise AlignError(
                f"stage {plan.name!r}: unknown stage type {plan.type!r} (known: {', '.join(sorted(STAGES))})"
            )
        try:
            stage_module(plan.type).Config(**plan.config)
        except ValidationError as exc:
            raise AlignError(f"stage {plan.name!r}: {format_validation_error(exc)}") from None


def format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if not key:  # a rule across fields (a model validator): its message says which
            parts.append(err["msg"].removeprefix("Value error, "))
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown key {key!r}")
        elif err["type"] == "missing":
            parts.append(f"missing key {key!r}")
        else:
            parts.append(f"key {key!r}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(parts)
