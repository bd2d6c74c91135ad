"""The embedded world's datasets and the models' training corpora, generated from a seed (`align world build`).

Every dataset has an rng of its own where adding or changing it must leave the others as they were; the models'
corpora are digested, so a data-only rebuild can prove that no model would change.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from align.data.jsonl import write_jsonl
from align.world import instruct, reference, splits, tasks


@dataclass
class ModelSpec:
    hidden: int
    layers: int
    heads: int
    epochs: float
    learning_rate: float


@dataclass
class WorldSize:
    arith_train: int = 1500
    arith_test: int = 200
    arith_hard_train: int = 1500  # chains past 100 (tasks.make_arith_hard_problem): ReST-EM over iterations
    arith_hard_test: int = 200
    arith_pretrain: int = 6000
    drill: int = 6000  # single-operation sums: the skill itself, always worked correctly
    instruct_train: int = 700
    sft: int = 700  # prompts with two demo sets: clean (`sft`) and crowd-written (`sft_crowd`)
    instruct_test: int = 200
    instruct_pretrain: int = 4000
    reference_train: int = 1000
    reference_test: int = 200
    reference_pretrain: int = 4000
    rater_train: int = 4000  # rating triples world:rater learns from (align.bench.world_rater)
    rater_held_out: int = 400  # triples its agreement with the gold judge is measured on
    batch_size: int = 64
    base: ModelSpec = field(default_factory=lambda: ModelSpec(128, 4, 4, 6, 3e-3))
    teacher: ModelSpec = field(default_factory=lambda: ModelSpec(192, 4, 6, 5, 2e-3))


SIZES = {
    "full": WorldSize(),
    "micro": WorldSize(
        arith_train=20,
        arith_test=10,
        arith_hard_train=20,
        arith_hard_test=10,
        arith_pretrain=40,
        drill=20,
        instruct_train=10,
        sft=10,
        instruct_test=10,
        instruct_pretrain=20,
        reference_train=10,
        reference_test=10,
        reference_pretrain=20,
        rater_train=32,
        rater_held_out=16,
        batch_size=16,
        base=ModelSpec(32, 1, 2, 1, 1e-3),
        teacher=ModelSpec(48, 1, 2, 1, 1e-3),
    ),
}


def drill_problem(rng: random.Random) -> dict:
    """One step of the arithmetic (up to three digits plus one digit): the skill, always done right."""
    a, b, op = rng.randint(0, 140), rng.randint(1, 9), rng.choice("+-")
    op = "+" if a < b else op
    expr = f"{a}{op}{b}"
    return {"prompt": tasks.user(tasks.arith_prompt(expr)), "expr": expr}


def make_datasets(size: WorldSize, seed: int) -> dict[str, list[dict]]:
    """The shipped datasets (TRL formats) plus the two pretraining corpora (`_`: the models' training data, kept
    to check a rebuild; the base model's is also shipped, shuffled, as `corpus`)."""
    rng = random.Random(seed)
    arith_train, arith_test = splits.generate_split("arith", seed, size.arith_train, size.arith_test)
    arith_pre, _ = splits.generate_split("arith", seed + 1000, size.arith_pretrain, 0)
    hard_train, hard_test = splits.generate_split("arith_hard", seed, size.arith_hard_train, size.arith_hard_test)
    instruct_all, instruct_test = splits.generate_split(
        "instruct", seed, size.instruct_train + size.sft, size.instruct_test
    )
    reference_train, reference_test = splits.generate_split(
        "reference", seed, size.reference_train, size.reference_test
    )
    reference_pre, _ = splits.generate_split("reference", seed + 1000, size.reference_pretrain, 0)
    sft_prompts, instruct_train = instruct_all[: size.sft], instruct_all[size.sft :]
    drill = [drill_problem(rng) for _ in range(size.drill)]
    instruct_pre = [rng.choice(instruct_all) for _ in range(size.instruct_pretrain)]

    def pc(prompt, text):
        return {"prompt": prompt, "completion": tasks.assistant(text)}

    base_corpus = (
        [pc(p["prompt"], tasks.arith_solution_noisy(p, rng)) for p in arith_pre]
        + [pc(p["prompt"], tasks.arith_solution_clean(p)) for p in drill]
        + [pc(p["prompt"], instruct.instruct_response_noisy(p["constraints"], rng)) for p in instruct_pre]
        + [pc(p["prompt"], reference.reference_response_noisy(p, rng)) for p in reference_pre]
    )
    teacher_corpus = (
        [pc(p["prompt"], tasks.arith_solution_clean(p)) for p in arith_pre + drill]
        + [pc(p["prompt"], instruct.instruct_response(p["constraints"], rng)) for p in instruct_pre]
        + [{"prompt": p["prompt"], "completion": p["completion"]} for p in reference_pre]
    )

    def verifiable(ps):
        return [{"prompt": p["prompt"], "answer": p["answer"], "level": p["level"]} for p in ps]

    def instructions(ps):
        return [{"prompt": p["prompt"], "constraints": p["constraints"]} for p in ps]

    def references(ps):
        return [{"prompt": p["prompt"], "completion": p["completion"]} for p in ps]

    return {
        "arith_train": verifiable(arith_train),
        "arith_test": verifiable(arith_test),
        "arith_hard_train": verifiable(hard_train),
        "arith_hard_test": verifiable(hard_test),
        "instruct_train": instructions(instruct_train),
        "instruct_test": instructions(instruct_test),
        "sft": [
            {"messages": p["prompt"] + tasks.assistant(instruct.instruct_response(p["constraints"], rng))}
            for p in sft_prompts
        ],
        "sft_crowd": crowd_demos(sft_prompts, seed),
        "reference_train": references(reference_train),
        "reference_test": references(reference_test),
        "corpus": shuffled_corpus(base_corpus, seed),
        "_base_corpus": base_corpus,
        "_teacher_corpus": teacher_corpus,
    }


def shuffled_corpus(corpus: list[dict], seed: int) -> list[dict]:
    """`world:corpus`: the base model's own pre-training text (right and wrong modes mixed), shipped for data
    filters and DPKD's pretraining term; shuffled with an rng of its own, so its first N rows are a fair sample
    and every other dataset stays as it was."""
    return random.Random(f"corpus-{seed}").sample(corpus, len(corpus))


def crowd_demos(prompts: list[dict], seed: int) -> list[dict]:
    """Mixed-quality demonstrations (the Xwin pipeline's SFT data); an rng of their own, so adding or
    changing them leaves every other dataset and both model corpora as they were."""
    rng = random.Random(f"sft_crowd-{seed}")
    return [
        {"messages": p["prompt"] + tasks.assistant(instruct.instruct_response_mixed(p["constraints"], rng))}
        for p in prompts
    ]


def corpus_digest(corpus: list[dict]) -> str:
    return hashlib.sha256(json.dumps(corpus, sort_keys=True).encode()).hexdigest()


def write_datasets(datasets: dict[str, list[dict]], data_dir: Path) -> None:
    for name, rows in datasets.items():
        if not name.startswith("_"):
            write_jsonl(data_dir / f"{name}.jsonl", rows)
