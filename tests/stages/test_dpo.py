"""The `dpo` stage: DPO and its variants train, and the first logged loss is the known value at policy = reference."""

import math

import pytest

from align.engine.recipe import load_recipe
from align.engine.runlog import read_metrics
from align.engine.runner import Engine
from align.world import tasks
from tests.conftest import write_recipe

PAIRS = [
    {
        "prompt": tasks.user(f"List {n} fruits."),
        "chosen": tasks.assistant("fig, kiwi, plum"[: 5 * n]),
        "rejected": tasks.assistant("cat"),
    }
    for n in (1, 2, 3, 1, 2, 3, 1, 2)
]


@pytest.mark.parametrize("loss", ["ipo", "robust", "simpo"])
def test_dpo_variants_train(tmp_path, loss):
    from align.data.jsonl import write_jsonl

    prefs = tmp_path / "prefs.jsonl"
    write_jsonl(
        prefs,
        [
            {
                "prompt": tasks.user(f"List {n} fruits."),
                "chosen": tasks.assistant("fig, kiwi"[: 3 * n]),
                "rejected": tasks.assistant("cat"),
            }
            for n in (1, 2, 3, 1, 2, 3, 1, 2)
        ],
    )
    recipe = tmp_path / "r.yaml"
    smoothing = "label_smoothing: 0.1, " if loss == "robust" else ""
    recipe.write_text(
        f"tracking: none\nstages:\n  dpo: {{stage: dpo, model: 'world:base', data: {prefs}, "
        f"loss_type: {loss}, {smoothing}max_steps: 2, batch_size: 4, max_length: 64}}\n"
    )
    [summary] = Engine(load_recipe(str(recipe)), tmp_path / "run").run()
    assert summary["metrics"]["train/steps"] == 2
    assert (tmp_path / "run" / "dpo" / "model" / "model.safetensors").exists()


def dpo_first_loss(tmp_path, loss_type: str, beta: float) -> float:
    from align.data.jsonl import write_jsonl
    from align.engine.recipe import load_recipe
    from align.engine.runner import Engine

    write_jsonl(tmp_path / "prefs.jsonl", PAIRS)
    path = write_recipe(
        tmp_path,
        f"tracking: none\nstages:\n  dpo: {{stage: dpo, model: 'world:base', "
        f"data: {tmp_path / 'prefs.jsonl'}, loss_type: {loss_type}, beta: {beta}, "
        f"max_steps: 1, logging_steps: 1, batch_size: 8, learning_rate: 0.001}}\n",
    )
    Engine(load_recipe(str(path)), tmp_path / "run").run()
    [loss] = [m["value"] for m in read_metrics(tmp_path / "run") if m["name"] == "train/loss" and m["step"] == 1]
    return loss


def test_dpo_step0_loss_is_ln2_at_policy_equals_reference(tmp_path):
    assert dpo_first_loss(tmp_path, "sigmoid", 0.1) == pytest.approx(math.log(2), abs=1e-4)


def test_ipo_step0_loss_is_inverse_two_beta_squared(tmp_path):
    beta = 0.5
    assert dpo_first_loss(tmp_path, "ipo", beta) == pytest.approx((1 / (2 * beta)) ** 2, rel=1e-4)


@pytest.mark.parametrize("chat", [True, False], ids=["conversations", "text"])
def test_trls_implicit_prompt_pairs_train_as_explicit_ones(tmp_path, chat):
    """TRL's implicit-prompt preferences (chosen and rejected as whole conversations or texts, no `prompt`): the
    shared prefix is the prompt, as TRL reads them."""
    from align.data.jsonl import write_jsonl
    from align.loading.datasets import load_dataset

    def side(answer):
        return (
            [{"role": "user", "content": "List 2 fruits."}, {"role": "assistant", "content": answer}]
            if chat
            else f"List 2 fruits. {answer}"
        )

    write_jsonl(tmp_path / "pairs.jsonl", [{"chosen": side("fig, kiwi"), "rejected": side("cat")}] * 8)
    (row, *_) = load_dataset(str(tmp_path / "pairs.jsonl"), "preference")
    assert row["prompt"] == ([{"role": "user", "content": "List 2 fruits."}] if chat else "List 2 fruits.")
    assert row["chosen"] == ([{"role": "assistant", "content": "fig, kiwi"}] if chat else " fig, kiwi")
    path = write_recipe(
        tmp_path,
        f"tracking: none\nstages:\n  dpo: {{stage: dpo, model: world:base, "
        f"data: {tmp_path}/pairs.jsonl, max_steps: 1, batch_size: 4}}\n",
    )
    assert Engine(load_recipe(str(path)), tmp_path / "run").run()[0]["metrics"]["train/pairs"] == 8
