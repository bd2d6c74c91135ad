"""`world:rater`: the world's grader for AlpaGasus-style filtering, prompted with the released rating prompt.

AlpaGasus rates data with an LLM (ChatGPT), not with the annotators' ground truth. The world's stand-in is a
small model taught the rating task from **noisy** ratings: the gold judge's score x 5 plus Gaussian noise
(sd `NOISE`), rounded to halves. So it is an imperfect grader, as an LLM grader is, and its agreement with the
gold judge is measured on held-out triples and recorded in world.json. It starts from the teacher's weights,
which know the instruction domain, and is fine-tuned to answer `align.data.filters.rating_messages` chats with the
score alone on the first line. Its tokenizer is the world's plus the rating prompt's fixed strings as added
tokens. A real tokenizer spends few tokens on them, and so the whole prompt fits a small context. The triples'
prompts never appear in `world:sft_crowd` or `world:instruct_test`, the data it is used on and evaluated with.
"""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import torch

from align.data import filters
from align.world import instruct, tasks

NOISE = 0.5  # sd of the noise on the 0-5 training ratings
EPOCHS, LEARNING_RATE = 8, 1e-3  # its fine-tuning from the teacher
FIXED_STRINGS = [
    filters.RATING_SYSTEM,
    *filters.RATING_REQUEST.values(),
    "###Instruction:\n",
    "\n\n### Input:\n",
    "\n\n### Response:\n",
]


def triples(seed: int, count: int, avoid: set[str]) -> list[dict]:
    """Instruction triples with responses of every quality, and their gold scores in [0, 1]."""
    from align.world.gold_judge import gold_score

    rng = random.Random(f"rater-{seed}")
    writers = [
        lambda c: instruct.instruct_response(c, rng),
        lambda c: instruct.instruct_response_noisy(c, rng),
        lambda c: instruct.instruct_response_mixed(c, rng),
    ]
    out = []
    while len(out) < count:
        problem = instruct.make_instruct_problem(rng)
        text = problem["prompt"][0]["content"]
        if text in avoid:
            continue
        response = rng.choice(writers)(problem["constraints"])
        out.append({"instruction": text, "response": response, "gold": gold_score(problem["constraints"], response)})
    return out


def noisy_rating(gold: float, rng: random.Random) -> float:
    return min(5.0, max(0.0, round((5 * gold + rng.gauss(0, NOISE)) * 2) / 2))


def rating_rows(items: list[dict], seed: int) -> list[dict]:
    """Training chats: the rating prompt, then the noisy score alone on the first line."""
    rng = random.Random(f"rater-labels-{seed}")
    return [
        {
            "messages": filters.rating_messages(t["instruction"], "", t["response"])
            + tasks.assistant(f"{noisy_rating(t['gold'], rng):g}")
        }
        for t in items
    ]


def rater_tokenizer(tokenizer):
    from tokenizers import AddedToken

    tokenizer.add_tokens([AddedToken(s, normalized=False, special=False) for s in FIXED_STRINGS])
    return tokenizer


def agreement(model_dir: Path, items: list[dict]) -> dict:
    """How the rater's greedy ratings of held-out triples agree with the gold judge."""
    from align.generation.generators import SamplingParams, make_generator

    chats = [filters.rating_messages(t["instruction"], "", t["response"]) for t in items]
    replies = make_generator(str(model_dir), backend="hf").generate(
        chats, SamplingParams(n=1, temperature=0, max_new_tokens=8, seed=0)
    )
    scores = [filters.parse_rating(r[0]) for r in replies]
    pairs = [(s, 5 * t["gold"]) for s, t in zip(scores, items) if s is not None]
    result = {"held_out_triples": len(items), "parsed": len(pairs) / len(items)}
    if not pairs:
        return result
    rated, gold = [s for s, _ in pairs], [g for _, g in pairs]
    kept = [(s >= 4.5, g == 5) for s, g in pairs]
    varied = len(set(rated)) > 1 and len(set(gold)) > 1
    return {
        **result,
        "pearson_r": statistics.correlation(rated, gold) if varied else None,
        "mean_abs_error": statistics.fmean(abs(s - g) for s, g in pairs),
        "keep_agreement": statistics.fmean(a == b for a, b in kept),
        "keep_precision": sum(a and b for a, b in kept) / max(sum(a for a, _ in kept), 1),
        "keep_recall": sum(a and b for a, b in kept) / max(sum(b for _, b in kept), 1),
    }


def build_rater(assets: Path, datasets: dict, seed: int, out_dir: Path, sizes) -> dict:
    """Fine-tune `assets/teacher` into `out_dir` on `sizes.rater_train` triples and measure its agreement with the
    gold judge on `sizes.rater_held_out` others."""
    from align.bench.world_training import fine_tune_and_save
    from align.loading.models import load_causal_lm, load_tokenizer

    avoid = {row["messages"][0]["content"] for row in datasets["sft_crowd"]}
    avoid |= {row["prompt"][0]["content"] for row in datasets["instruct_test"]}
    train, held_out = sizes.rater_train, sizes.rater_held_out
    train_items, held_out_items = triples(seed, train, avoid), triples(seed + 1, held_out, avoid)
    tokenizer = rater_tokenizer(load_tokenizer(str(assets / "teacher"), padding_side="right"))
    model = load_causal_lm(str(assets / "teacher"), dtype="float32", device="cpu")
    model.resize_token_embeddings(len(tokenizer))
    torch.manual_seed(seed)
    epochs, learning_rate = EPOCHS, LEARNING_RATE
    final = fine_tune_and_save(
        model,
        tokenizer,
        rating_rows(train_items, seed),
        out_dir,
        seed,
        "world: rater",
        epochs=epochs,
        learning_rate=learning_rate,
        batch_size=32,
        max_length=256,
    )
    return {
        "from": "teacher",
        "noise_sd": NOISE,
        "train_triples": train,
        "epochs": epochs,
        "learning_rate": learning_rate,
        "final_loss": final.get("train/loss"),
        "parameters": sum(p.numel() for p in model.parameters()),
        "agreement": agreement(out_dir, held_out_items),
    }
