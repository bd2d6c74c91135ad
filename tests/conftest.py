import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ALIGN_NUM_THREADS", "2")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def fake_stages(monkeypatch):
    """Register the cheap test stages of tests/fake_stages.py beside the real ones."""
    from align import stages
    from tests import fake_stages as fakes

    monkeypatch.setitem(stages.STAGES, "echo", fakes.echo)
    monkeypatch.setitem(stages.STAGES, "boom", fakes.boom)
    monkeypatch.setitem(stages.STAGES, "draw", fakes.draw)
    fakes.CALLS.clear()
    return fakes


def write_recipe(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def model_with_other_tokenizer(tmp_path: Path, spec: str = "world:teacher") -> Path:
    """A copy of a world model whose tokenizer has one extra token: same weights, different token ids."""
    import shutil

    from align.loading.models import load_tokenizer
    from align.world import resolve

    other = tmp_path / "other-tokenizer"
    shutil.copytree(resolve(spec), other)
    tokenizer = load_tokenizer(str(other))
    tokenizer.add_tokens(["<|extra|>"])
    tokenizer.save_pretrained(str(other))
    return other


def align(*args, **kwargs):
    """`python cli.py ARGS` in a fresh process at the repo root (text output captured)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=kwargs.pop("cwd", ROOT),
        timeout=kwargs.pop("timeout", 300),
        **kwargs,
    )


def samples_file(tmp_path, prompts=("List 2 fruits.", "List 1 colors.")):
    """Two samples (a right and a wrong list) of each prompt, as a sample stage writes them."""
    from align.data.jsonl import write_jsonl
    from align.world import tasks

    rows = [
        {"prompt": tasks.user(p), "completion": c, "sample_index": i, "policy": "test"}
        for p in prompts
        for i, c in enumerate(["fig, kiwi", "cat"])
    ]
    path = tmp_path / "samples.jsonl"
    write_jsonl(path, rows)
    return path


def run_recipe(tmp_path, stages: str):
    """`align run` (in this process) of a recipe made of `stages` (YAML lines under `stages:`)."""
    from typer.testing import CliRunner

    from align.cli import app

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("tracking: none\nstages:\n" + stages)
    result = CliRunner().invoke(app, ["run", str(recipe), "--run-dir", str(tmp_path / "run")])
    assert not list((tmp_path / "run").rglob("DONE")) or result.exit_code == 0
    return result
