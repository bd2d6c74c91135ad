"""align agrees with the TRL trainers it wraps: the RM scorer reads a pair exactly as RewardTrainer trained on it,
DPO's first logged loss is the known value at policy = reference, and `trainer:` fields reach the TRL config."""

import math

import pytest
import torch

from align.engine.runlog import read_metrics
from align.errors import AlignError
from align.stages import dpo, reward, sft
from align.world import tasks
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow

CHAT_PAIRS = [
    {
        "prompt": tasks.user(f"List {n} fruits."),
        "chosen": tasks.assistant("fig, kiwi, plum"[: 5 * n]),
        "rejected": tasks.assistant("cat"),
    }
    for n in (1, 2, 3, 1, 2, 3, 1, 2)
]
TEXT_PAIRS = [
    {"prompt": f"Compute {a}+{b}. ", "chosen": f"{a + b}", "rejected": f"{a + b + 1}"}
    for a, b in ((1, 2), (3, 4), (5, 1), (2, 2), (4, 3), (6, 1), (1, 1), (7, 2))
]


@pytest.mark.parametrize("pairs", [CHAT_PAIRS, TEXT_PAIRS], ids=["chat", "plain-text"])
def test_reward_model_scores_pairs_as_the_trainer_saw_them(tmp_path, pairs):
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    from align.loading.models import load_tokenizer, locate_model
    from align.training.run import save_policy
    from rewards import make_scorer

    config = reward.Config(model="world:base", data="unused", max_steps=3, batch_size=4, learning_rate=1e-3)
    tokenizer = load_tokenizer("world:base", padding_side="right")
    model = AutoModelForSequenceClassification.from_pretrained(
        locate_model("world:base"), num_labels=1, dtype=torch.float32
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = RewardTrainer(
        model=model,
        args=config.trainer_args(tmp_path / "ck", 0),
        processing_class=tokenizer,
        train_dataset=Dataset.from_list(pairs),
    )
    trainer.train()
    save_policy(trainer.model, tokenizer, tmp_path / "rm")
    trainer.model.eval()
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])  # chosen x4, then rejected x4
    with torch.no_grad():
        expected = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
    scorer = make_scorer({"name": "reward_model", "model": str(tmp_path / "rm")})
    text = lambda c: c if isinstance(c, str) else c[0]["content"]  # noqa: E731
    prompts = [p["prompt"] for p in pairs[:4]] * 2
    completions = [text(p["chosen"]) for p in pairs[:4]] + [text(p["rejected"]) for p in pairs[:4]]
    assert scorer(prompts, completions) == pytest.approx(expected.tolist(), abs=1e-5)


def dpo_first_loss(tmp_path, loss_type: str, beta: float) -> float:
    from align.data.jsonl import write_jsonl
    from align.engine.recipe import load_recipe
    from align.engine.runner import Engine

    write_jsonl(tmp_path / "prefs.jsonl", CHAT_PAIRS)
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


def test_trainer_fields_reach_the_trl_config(tmp_path):
    config = sft.Config(model="world:base", data="world:sft", trainer={"max_grad_norm": 0.25, "optim": "adafactor"})
    args = config.trainer_args(tmp_path, 0)
    assert args.max_grad_norm == 0.25 and args.optim == "adafactor"
    ld = dpo.Config(model="world:base", data="x", trainer={"ld_alpha": 0.5})  # TRL 1.16 has no rpo_alpha
    assert ld.trainer_args(tmp_path, 0).ld_alpha == 0.5
    with pytest.raises(AlignError, match=r"no field\(s\) \['max_grad_nrm'\]"):
        sft.check(sft.Config(model="world:base", data="world:sft", trainer={"max_grad_nrm": 1}))
    with pytest.raises(AlignError, match="trainer.learning_rate: set `learning_rate` in the stage"):
        sft.check(sft.Config(model="world:base", data="world:sft", trainer={"learning_rate": 1}))
    with pytest.raises(AlignError, match="trainer.beta: set `beta`"):
        dpo.check(dpo.Config(model="world:base", data="x", trainer={"beta": 1}))
