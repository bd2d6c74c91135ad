"""The `kto` stage (TRL's KTOTrainer) and the `select` rule that labels scored samples for it."""

import json

import pytest

from align.data.jsonl import read_jsonl, write_jsonl
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.errors import AlignError
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow


def test_sample_score_label_kto_chain(tmp_path):
    path = write_recipe(
        tmp_path,
        """tracking: none
stages:
  sample: {stage: sample, model: 'world:base', prompts: world:arith_train, limit: 8, n: 4, max_new_tokens: 32}
  score: {stage: score, data: '${sample.data}', scorer: math}
  label: {stage: select, data: '${score.data}', rule: label, cap: 4}
  kto: {stage: kto, model: 'world:base', data: '${label.data}', max_steps: 2, batch_size: 8, learning_rate: 0.0001,
        max_length: 96, logging_steps: 1}
""",
    )
    Engine(load_recipe(str(path)), tmp_path / "run").run()
    rows = read_jsonl(tmp_path / "run" / "label" / "data.jsonl")
    assert len(rows) == 32 and {r["label"] for r in rows} == {True, False}
    assert all(r["label"] == (r["score"] >= 0.5) for r in rows)
    info = json.loads((tmp_path / "run" / "kto" / "stage.json").read_text())
    assert info["metrics"]["train/steps"] == 2 and (tmp_path / "run" / "kto" / "model" / "config.json").exists()


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"prompt": "p", "completion": "a", "label": True}] * 2, r"every row is labelled desirable \(true\)"),
        ([{"prompt": "p", "completion": "a", "label": "yes"}], r"record 1: 'label' must be true .* got 'yes'"),
        ([{"prompt": "p", "completion": "a"}], r"record 1: missing column\(s\) for a unpaired dataset"),
    ],
)
def test_kto_data_without_both_labels_is_refused_before_the_run(tmp_path, rows, message):
    write_jsonl(tmp_path / "d.jsonl", rows)
    path = write_recipe(
        tmp_path, f"tracking: none\nstages:\n  kto: {{stage: kto, model: 'world:base', data: {tmp_path}/d.jsonl}}\n"
    )
    with pytest.raises(AlignError, match=message):
        Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert not (tmp_path / "run" / "kto").exists()
