"""Recipe files: strict YAML (a repeated key is an error, not a silently dropped stage) and `extends:` chains
merged parent first, before any override or `${...}` is applied."""

from __future__ import annotations

from pathlib import Path

import yaml

from align.errors import AlignError

RECIPES_DIR = Path(__file__).resolve().parents[2] / "recipes"


def find_recipe(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.exists():
            raise AlignError(f"recipe file not found: {name_or_path}")
        return path
    candidate = RECIPES_DIR / f"{name_or_path}.yaml"
    if not candidate.exists():
        known = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
        raise AlignError(f"unknown recipe {name_or_path!r}: known recipes are {known}")
    return candidate


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a repeated key (plain YAML keeps the last one: a stage would silently vanish)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: merged keys may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        where = exc.problem_mark or exc.context_mark
        at = f"line {where.line + 1}, column {where.column + 1}: " if where else ""
        raise AlignError(f"{path}: {at}not valid YAML: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise AlignError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None


def read_recipe_doc(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The recipe's YAML with its `extends:` chain merged in (parent first)."""
    doc = read_yaml(path)
    if not isinstance(doc, dict) or "extends" not in doc:
        return doc
    parent = str(doc.pop("extends"))
    local = path.parent / parent
    parent_path = local if parent.endswith((".yaml", ".yml")) and local.exists() else find_recipe(parent)
    if parent_path.resolve() in seen + (path.resolve(),):
        raise AlignError(f"{path}: `extends: {parent}` leads back to a recipe already in the chain")
    base = read_recipe_doc(parent_path, seen + (path.resolve(),))
    if not isinstance(base, dict) or not isinstance(base.get("stages"), dict):
        raise AlignError(f"{path}: `extends: {parent}`: {parent_path} is not a recipe with `stages:`")
    return merge_recipes(base, doc, path)


def no_stage_to_drop(source, name: str, stages: dict) -> str:
    """One message wherever a stage is dropped (`name: null` under `extends:`, `stages.NAME=null`)."""
    return f"{source}: cannot drop stage {name!r}: there is no such stage (stages: {', '.join(stages)})"


def merge_recipes(base: dict, child: dict, path: Path) -> dict:
    """The child's keys over the parent's; stages and smoke entries are merged by name (stage `null` = drop)."""
    merged = {**base, **{k: v for k, v in child.items() if k not in ("stages", "smoke")}}
    merged["name"] = child.get("name", path.stem)
    for key in ("stages", "smoke"):
        if not isinstance(child.get(key) or {}, dict):
            raise AlignError(f"{path}: `{key}` must be a mapping")
    for name, spec in (child.get("stages") or {}).items():
        if spec is None and name not in base["stages"]:
            raise AlignError(no_stage_to_drop(path, name, base["stages"]))
    stages = {**base["stages"], **(child.get("stages") or {})}
    merged["stages"] = {name: spec for name, spec in stages.items() if spec is not None}
    dropped = tuple(f"stages.{name}." for name, spec in stages.items() if spec is None)
    smoke = {**(base.get("smoke") or {}), **(child.get("smoke") or {})}
    merged["smoke"] = {key: value for key, value in smoke.items() if not key.startswith(dropped)}
    return merged
