import os
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
