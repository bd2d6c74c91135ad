"""What a recipe and a stage type take, each key with its documentation, as TRL documents its configs:
`align recipes --show NAME` (the recipe's parameters and every stage's keys) and `align recipes --stage TYPE`
(every key of a stage type, its default and meaning). Read from the same schemas a recipe is validated against,
so the documentation cannot drift from what runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel
from rich.table import Table

from align.engine.recipe import RESERVED, load_recipe
from align.engine.recipe_files import find_recipe, read_yaml
from align.errors import AlignError
from align.stages import STAGES, stage_module

COMMENTED = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w-]*):(?P<value>[^#]*)#\s*(?P<comment>.*)$")


def shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def field_rows(config: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, meaning) of every field of a config; a nested config (`lora`) by its own fields."""
    rows = []
    for name, field in config.model_fields.items():
        default = "(required)" if field.is_required() else shown(field.get_default(call_default_factory=True))
        rows.append((prefix + name, default, field.description or ""))
        nested = next(
            (t for t in getattr(field.annotation, "__args__", ()) if isinstance(t, type) and issubclass(t, BaseModel)),
            None,
        )
        if nested is not None:
            rows += field_rows(nested, prefix + name + ".")
    return rows


def stage_table(stage_type: str) -> Table:
    if stage_type not in STAGES:
        raise AlignError(f"unknown stage type {stage_type!r} (known: {', '.join(sorted(STAGES))})")
    module = stage_module(stage_type)
    table = Table("key", "default", "meaning", title=f"stage `{stage_type}`", title_justify="left")
    for row in field_rows(module.Config):
        table.add_row(*row)
    table.caption = (module.__doc__ or "").strip().split("\n")[0]
    return table


def parameter_comments(path: Path) -> dict[str, str]:
    """The comment written beside each top-level parameter (and one level below: `data.train`), through the
    `extends:` chain (the recipe's own comment wins)."""
    comments: dict[str, str] = {}
    doc = read_yaml(path)
    if isinstance(doc, dict) and "extends" in doc:
        parent = path.parent / str(doc["extends"])
        comments.update(parameter_comments(parent if parent.exists() else find_recipe(str(doc["extends"]))))
    top = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#")):
            top = line.split(":", 1)[0]
        match = COMMENTED.match(line)
        if match and len(match["indent"]) in (0, 2) and top not in ("stages", "smoke"):
            key = match["key"] if not match["indent"] else f"{top}.{match['key']}"
            comments[key] = match["comment"].strip()
    return comments


def flatten(params: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for key, value in params.items():
        if isinstance(value, dict) and value:
            out += flatten(value, f"{prefix}{key}.")
        else:
            out.append((prefix + key, value))
    return out


def recipe_tables(name: str) -> list[Table]:
    """The recipe's parameters (override as key=value), then each stage's keys as the recipe sets them."""
    recipe = load_recipe(name)
    comments = parameter_comments(find_recipe(name))
    parameters = Table(
        "parameter",
        "value",
        "meaning",
        title=f"{recipe.name}: {recipe.description}",
        title_justify="left",
        caption="override any of these, or stages.<stage>.<key>, as key=value",
    )
    for key, value in [("seed", recipe.seed), *flatten({k: v for k, v in recipe.params.items() if k not in RESERVED})]:
        parameters.add_row(key, shown(value), comments.get(key, ""))
    tables = [parameters]
    seen: set[str] = set()
    for plan in recipe.stages:
        label = f"{plan.block}.{plan.inner}" if plan.block else plan.name
        if label in seen:
            continue  # a repeat block's stage, shown once
        seen.add(label)
        documented = {key: meaning for key, _, meaning in field_rows(stage_module(plan.type).Config)}
        table = Table("key", "value", "meaning", title=f"stage `{label}` ({plan.type})", title_justify="left")
        for key, value in plan.raw.items():
            table.add_row(key, shown(value), documented.get(key, ""))
        tables.append(table)
    tables[-1].caption = "every key of a stage type, with its default: align recipes --stage TYPE"
    return tables
