"""The `reward` stage: a one-logit reward model trained on pairs, its held-out pair accuracy on a seeded split."""

import json

import pytest
from transformers import AutoConfig

from align.data.jsonl import write_jsonl
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.stages import reward
from align.world import tasks
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow


def test_the_held_out_split_is_seeded_disjoint_and_refuses_too_few_pairs():
    rows = [{"i": i} for i in range(20)]
    train, held = reward.split(rows, 0.25, seed=3)
    assert len(held) == 5 and len(train) == 15 and {r["i"] for r in train} | {r["i"] for r in held} == set(range(20))
    assert reward.split(rows, 0.25, seed=3) == (train, held) and reward.split(rows, 0.25, seed=4) != (train, held)
    with pytest.raises(ValueError, match="1 preference pairs are too few to hold out 50%"):
        reward.split(rows[:1], 0.5, seed=0)


def test_trains_a_one_label_classifier_and_reports_held_out_accuracy(tmp_path):
    pairs = [
        {
            "prompt": tasks.user(f"List {n} fruits."),
            "chosen": tasks.assistant("fig, kiwi"[: 3 * n]),
            "rejected": tasks.assistant("cat"),
        }
        for n in (1, 2, 3) * 4
    ]
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  rm: {{stage: reward, model: world:base, data: {tmp_path}/pairs.jsonl, max_steps: 3, batch_size: 4,
       eval_fraction: 0.25, max_length: 64}}
""",
    )
    metrics = Engine(load_recipe(str(path)), tmp_path / "run").run()[0]["metrics"]
    assert metrics["rm/held_out_pairs"] == 3 and metrics["train/steps"] == 3
    assert metrics["rm/pair_accuracy"] in (0.0, 1 / 3, 2 / 3, 1.0)  # a share of the 3 held-out pairs
    config = AutoConfig.from_pretrained(str(tmp_path / "run" / "rm" / "model"))
    assert config.num_labels == 1 and config.architectures[0].endswith("ForSequenceClassification")
    stage = json.loads((tmp_path / "run" / "rm" / "stage.json").read_text())
    assert stage["key_metrics"] == ["train/loss", "rm/pair_accuracy"] and stage["values"]["start_weights"]
