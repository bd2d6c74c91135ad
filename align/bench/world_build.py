"""`align world build`: regenerate the embedded world's tokenizer, datasets and models from a seed.

Both models are trained from scratch with the same SFT code path the `sft` stage uses. The base sees
*noisy* data (wrong modes mixed with right ones, see tasks.py); the teacher is larger and sees clean
data. Weights are stored in fp16 to keep the shipped assets small.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from align.data.jsonl import write_jsonl
from align.world import ASSETS, tasks
from align.world.tokenizer import build_tokenizer


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
    arith_train, arith_test = tasks.generate_split("arith", seed, size.arith_train, size.arith_test)
    arith_pre, _ = tasks.generate_split("arith", seed + 1000, size.arith_pretrain, 0)
    hard_train, hard_test = tasks.generate_split("arith_hard", seed, size.arith_hard_train, size.arith_hard_test)
    instruct_all, instruct_test = tasks.generate_split(
        "instruct", seed, size.instruct_train + size.sft, size.instruct_test
    )
    reference_train, reference_test = tasks.generate_split("reference", seed, size.reference_train, size.reference_test)
    reference_pre, _ = tasks.generate_split("reference", seed + 1000, size.reference_pretrain, 0)
    sft_prompts, instruct_train = instruct_all[: size.sft], instruct_all[size.sft :]
    drill = [drill_problem(rng) for _ in range(size.drill)]
    instruct_pre = [rng.choice(instruct_all) for _ in range(size.instruct_pretrain)]

    def pc(prompt, text):
        return {"prompt": prompt, "completion": tasks.assistant(text)}

    base_corpus = (
        [pc(p["prompt"], tasks.arith_solution_noisy(p, rng)) for p in arith_pre]
        + [pc(p["prompt"], tasks.arith_solution_clean(p)) for p in drill]
        + [pc(p["prompt"], tasks.instruct_response_noisy(p["constraints"], rng)) for p in instruct_pre]
        + [pc(p["prompt"], tasks.reference_response_noisy(p, rng)) for p in reference_pre]
    )
    teacher_corpus = (
        [pc(p["prompt"], tasks.arith_solution_clean(p)) for p in arith_pre + drill]
        + [pc(p["prompt"], tasks.instruct_response(p["constraints"], rng)) for p in instruct_pre]
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
            {"messages": p["prompt"] + tasks.assistant(tasks.instruct_response(p["constraints"], rng))}
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
        {"messages": p["prompt"] + tasks.assistant(tasks.instruct_response_mixed(p["constraints"], rng))}
        for p in prompts
    ]


def corpus_digest(corpus: list[dict]) -> str:
    return hashlib.sha256(json.dumps(corpus, sort_keys=True).encode()).hexdigest()


def write_datasets(datasets: dict[str, list[dict]], data_dir: Path) -> None:
    for name, rows in datasets.items():
        if not name.startswith("_"):
            write_jsonl(data_dir / f"{name}.jsonl", rows)


def train_world_model(
    spec: ModelSpec, corpus: list[dict], tokenizer, out: Path, seed: int, batch_size: int, name: str
) -> dict:
    from transformers import LlamaConfig, LlamaForCausalLM

    from align.stages.base import StageContext, TrainingConfig
    from align.stages.sft import build_trainer
    from align.training.run import run_trainer

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden,
        intermediate_size=3 * spec.hidden,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    training = TrainingConfig(
        model="(from scratch)",
        epochs=spec.epochs,
        learning_rate=spec.learning_rate,
        batch_size=batch_size,
        warmup=0.03,
        max_length=128,
        save_steps=10**9,
        logging_steps=50,
    )
    with tempfile.TemporaryDirectory() as work:
        ctx = StageContext(out_dir=out, work_dir=Path(work), seed=seed, log=lambda *a: None)
        trainer = build_trainer(training, ctx, corpus, model, tokenizer, description=f"world: {name}")
        final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    trainer.model.to(torch.float16).save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": final.get("train/loss"),
        **asdict(spec),
    }


def train_named_model(name: str, sizes: WorldSize, datasets: dict, tokenizer, out: Path, seed: int) -> dict:
    """world:<name> (base or teacher) from its own corpus, with the corpus digest a later rebuild checks against."""
    info = train_world_model(
        getattr(sizes, name), datasets[f"_{name}_corpus"], tokenizer, out, seed, sizes.batch_size, name
    )
    return {**info, "corpus_sha256": corpus_digest(datasets[f"_{name}_corpus"])}


def build_world(out: Path | None = None, size: str = "full", seed: int = 0) -> dict:
    """Write tokenizer/, base/, teacher/, data/*.jsonl and world.json into `out` (atomically)."""
    from align.runtime.threads import configure_threads

    configure_threads()
    out = Path(out) if out else ASSETS
    sizes = SIZES[size]
    started = time.time()
    tmp = out.with_name(out.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "data").mkdir(parents=True)
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(str(tmp / "tokenizer"))
    datasets = make_datasets(sizes, seed)
    write_datasets(datasets, tmp / "data")
    models = {
        name: train_named_model(name, sizes, datasets, tokenizer, tmp / name, seed) for name in ("base", "teacher")
    }
    from align.bench.world_rater import build_rater

    models["rater"] = build_rater(
        tmp, datasets, seed, out_dir=tmp / "rater", train=sizes.rater_train, held_out=sizes.rater_held_out
    )
    manifest = {
        "size": size,
        "seed": seed,
        "build_seconds": round(time.time() - started, 1),
        "threads": torch.get_num_threads(),
        "models": models,
        "datasets": {k: len(v) for k, v in datasets.items()},
        "sizes": asdict(sizes),
    }
    (tmp / "world.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return {**manifest, "path": str(out)}


def rebuild_rater(out: Path | None = None) -> dict:
    """(Re)train only `rater/` from the shipped teacher and data (align.bench.world_rater), keeping everything else; a
    full build makes the same rater, since it trains the rater last, from the teacher it just built."""
    from align.bench.world_rater import build_rater
    from align.data.jsonl import read_jsonl
    from align.errors import AlignError
    from align.runtime.threads import configure_threads

    configure_threads()
    out = Path(out) if out else ASSETS
    manifest_path = out / "world.json"
    if not manifest_path.exists():
        raise AlignError(f"{out} has no world.json: run a full `align world build` first")
    manifest = json.loads(manifest_path.read_text())
    datasets = {name: read_jsonl(out / "data" / f"{name}.jsonl") for name in ("sft_crowd", "instruct_test")}
    tmp = out / "rater.building"
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.time()
    sizes = SIZES[manifest["size"]]
    info = build_rater(
        out, datasets, manifest["seed"], out_dir=tmp, train=sizes.rater_train, held_out=sizes.rater_held_out
    )
    shutil.rmtree(out / "rater", ignore_errors=True)
    tmp.rename(out / "rater")
    manifest["models"]["rater"] = {**info, "build_seconds": round(time.time() - started, 1)}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return {**manifest, "path": str(out)}


def rebuild_data(out: Path | None = None, retrain: bool = False) -> dict:
    """Regenerate the datasets, keeping each model whose training corpus comes out exactly as recorded in
    world.json (so a full build would make the same model). A changed corpus is refused, or with `retrain` only
    that model is trained again (the rater too when it is the teacher): a world change that touches one
    model's data costs that model's training, not a whole build. A manifest without corpus digests (older
    builds) gets them recorded now."""
    from align.errors import AlignError

    out = Path(out) if out else ASSETS
    manifest_path = out / "world.json"
    if not manifest_path.exists():
        raise AlignError(f"{out} has no world.json: run a full `align world build` first")
    manifest = json.loads(manifest_path.read_text())
    sizes = SIZES[manifest["size"]]
    datasets = make_datasets(sizes, manifest["seed"])
    changed = []
    for name, info in manifest["models"].items():
        if name == "rater":  # trained from the teacher on its own triples, not on a corpus
            continue
        digest = corpus_digest(datasets[f"_{name}_corpus"])
        if info.setdefault("corpus_sha256", digest) != digest:
            if not retrain:
                raise AlignError(
                    f"the {name} model's training corpus changed: run a full `align world build` "
                    "(or `--retrain-changed`)"
                )
            changed.append(name)
    tmp = out / "data.building"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    write_datasets(datasets, tmp)
    for name in changed:
        manifest["models"][name] = retrain_model(out, name, sizes, datasets, manifest["seed"])
    shutil.rmtree(out / "data")
    tmp.rename(out / "data")
    manifest["datasets"] = {k: len(v) for k, v in datasets.items()}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    if "teacher" in changed:
        return rebuild_rater(out)
    return {**manifest, "path": str(out)}


def retrain_model(out: Path, name: str, sizes: WorldSize, datasets: dict, seed: int) -> dict:
    """Train world:<name> again from its corpus into out/<name> (swapped in only once it is saved)."""
    from align.runtime.threads import configure_threads

    configure_threads()
    tmp = out / f"{name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.time()
    info = train_named_model(name, sizes, datasets, build_tokenizer(), tmp, seed)
    shutil.rmtree(out / name, ignore_errors=True)
    tmp.rename(out / name)
    return {**info, "build_seconds": round(time.time() - started, 1)}
