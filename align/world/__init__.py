"""The embedded default world: tiny models and datasets that ship with the package.

Anything accepted as a model or dataset may be written `world:<name>`; `resolve` maps it to the asset.
"""

from __future__ import annotations

from pathlib import Path

from align.errors import AlignError

ASSETS = Path(__file__).parent / "assets"
MODELS = ("base", "teacher", "rater")


def is_world_ref(spec: str) -> bool:
    return isinstance(spec, str) and spec.startswith("world:")


def resolve(spec: str, assets: Path = ASSETS) -> Path:
    """`world:base` -> the model dir, `world:arith_test` -> the dataset file."""
    name = spec.removeprefix("world:")
    path = assets / name if name in MODELS or name == "tokenizer" else assets / "data" / f"{name}.jsonl"
    if not path.exists():
        known = sorted([*MODELS, *(p.stem for p in (assets / "data").glob("*.jsonl"))])
        raise AlignError(
            f"unknown world asset {spec!r}: known are {', '.join('world:' + k for k in known)}"
            + ("" if assets.exists() else " (the world is not built: run `align world build`)")
        )
    return path
