"""A user's own data files, in the formats users bring: parquet and JSON lines, chat and plain text, no `world:`.

Small arithmetic and echo tasks, so a family's BPE (trained on the world's text) reads them in few tokens."""

from __future__ import annotations

import random
from pathlib import Path

import datasets

from align.data.jsonl import write_jsonl


def problems(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        out.append((f"What is {a} + {b}?", str(a + b)))
    return out


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def write_user_files(root: Path) -> dict[str, str]:
    """Every file a recipe reads, by role: the paths a user passes on the command line."""
    rng = random.Random(0)
    root.mkdir(parents=True, exist_ok=True)
    train, test = problems(rng, 48), problems(rng, 16)
    files = {
        # SFT demos as conversations with a system turn (parquet keeps the nested messages)
        "sft": [
            {
                "messages": [
                    {"role": "system", "content": "Answer briefly."},
                    *user(q),
                    {"role": "assistant", "content": f"The answer is {a}."},
                ]
            }
            for q, a in train
        ],
        "problems": [{"prompt": user(q), "answer": a} for q, a in train],  # prompt/answer, conversational
        "problems_test": [{"prompt": user(q), "answer": a} for q, a in test],
        "prompts": [
            {"prompt": user(f"Say {w} {n} times.")} for w in ("alpha", "beta", "gamma", "delta") for n in range(6)
        ],
        "prompts_test": [{"prompt": user(f"Say {w} once more.")} for w in ("alpha", "beta", "gamma", "delta") * 2],
        "references": [{"prompt": user(q), "completion": [{"role": "assistant", "content": a}]} for q, a in train],
        "references_test": [{"prompt": user(q), "completion": [{"role": "assistant", "content": a}]} for q, a in test],
        "corpus": [{"text": f"{q} The answer is {a}."} for q, a in problems(rng, 256)],
    }
    paths = {}
    for i, (role, rows) in enumerate(files.items()):
        if i % 2:  # half the files as JSON lines, half as parquet
            path = root / f"{role}.jsonl"
            write_jsonl(path, rows)
        else:
            path = root / f"{role}.parquet"
            datasets.Dataset.from_list(rows).to_parquet(str(path))
        paths[role] = str(path)
    return paths
