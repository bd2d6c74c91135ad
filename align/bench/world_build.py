"""`align world build`: regenerate the embedded world's tokenizer, datasets and models from a seed.

Both models are trained from scratch with the same SFT code path the `sft` stage uses. The base sees
*noisy* data (wrong modes mixed with right ones, see tasks.py); the teacher is larger and sees clean
data. Weights are stored in fp16 to keep the shipped assets small.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch

from align.bench.world_data import SIZES, WorldSize, corpus_digest, make_datasets, write_datasets
from align.bench.world_training import train_world_model
from align.world import ASSETS
from align.world.tokenizer import build_tokenizer


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

    models["rater"] = build_rater(tmp, datasets, seed, tmp / "rater", sizes)
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
    info = build_rater(out, datasets, manifest["seed"], tmp, sizes)
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
