"""Cheap stages for engine tests: they obey the stage contract but do no ML."""

import json
from pathlib import Path
from types import SimpleNamespace

from pydantic import Field

from align.data.jsonl import write_jsonl
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.stages.base import StageResult
from align.stages.config import StageConfig

CALLS: list[str] = []


class EchoConfig(StageConfig):
    value: str = "x"
    source: str | None = None
    sources: list[str] = Field(default_factory=list)
    fail: bool = False


def run_echo(config: EchoConfig, ctx):
    CALLS.append(config.value)
    if config.fail:
        raise RuntimeError("echo failed on purpose")
    upstream = Path(config.source).read_text().strip() if config.source else ""
    upstream += "|".join(Path(p).read_text().strip() for p in config.sources)
    write_jsonl(ctx.out_dir / "data.jsonl", [{"value": config.value, "upstream": upstream}])
    (ctx.out_dir / "value.txt").write_text(upstream + config.value)
    ctx.log({"echo/length": float(len(config.value))}, 0)
    return StageResult(
        outputs={"data": "data.jsonl", "text": "value.txt"}, metrics={"echo/length": float(len(config.value))}
    )


class BoomConfig(StageConfig):
    value: str = Field("x")


def run_boom(config: BoomConfig, ctx):
    (ctx.out_dir / "data.jsonl").write_text("half")
    raise RuntimeError("boom")


class DrawConfig(StageConfig):
    label: str = "d"


def run_draw(config: DrawConfig, ctx):
    """Records the RNG state it starts from: Python's, numpy's and torch's first draws."""
    import random

    import numpy
    import torch

    draws = [random.random(), float(numpy.random.rand()), float(torch.rand(1))]
    (ctx.out_dir / "draws.json").write_text(json.dumps(draws))
    return StageResult(outputs={"draws": "draws.json"}, metrics={"draw/python": draws[0]})


echo = SimpleNamespace(Config=EchoConfig, run=run_echo)
draw = SimpleNamespace(Config=DrawConfig, run=run_draw)
boom = SimpleNamespace(Config=BoomConfig, run=run_boom)


# A three-stage chain of echo stages, each reading the one before: the engine tests' recipe.
CHAIN = """
name: chain
tracking: none
stages:
  a: {stage: echo, value: A}
  b: {stage: echo, value: B, source: "${a.text}"}
  c: {stage: echo, value: C, source: "${b.text}"}
"""


def run(path, overrides=(), run_dir=None):
    recipe = load_recipe(str(path), list(overrides))
    return Engine(recipe, run_dir).run()
