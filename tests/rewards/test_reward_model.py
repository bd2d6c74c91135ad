"""The reward-model scorer reads a pair exactly as TRL's RewardTrainer trained on it, whatever the batching."""

import pytest
import torch

from align.stages import reward
from align.world import tasks
from rewards import make_scorer

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


def test_reward_model_scores_do_not_depend_on_batching(tmp_path):
    """Rows are batched by length (less padding) and scored in input order: the same scores as one batch."""
    from transformers import AutoModelForSequenceClassification

    from align.loading.models import load_tokenizer, locate_model
    from rewards.reward_model import RewardModelScorer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(locate_model("world:base"), num_labels=1)
    model.config.pad_token_id = 0
    model.save_pretrained(tmp_path / "rm")
    load_tokenizer("world:base").save_pretrained(tmp_path / "rm")
    prompts = [f"Compute {i}+{i * 7}." for i in range(20)]
    completions = ["x" * (1 + (i * 13) % 40) for i in range(20)]  # lengths out of order
    scores = RewardModelScorer(str(tmp_path / "rm"), batch_size=3)(prompts, completions)
    one_batch = RewardModelScorer(str(tmp_path / "rm"), batch_size=64)(prompts, completions)
    assert torch.allclose(torch.tensor(scores), torch.tensor(one_batch), atol=1e-5) and len(set(scores)) > 10
