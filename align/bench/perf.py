"""`align bench perf`: align's speed against the raw libraries it drives, side by side in one run.

Every figure is a ratio measured here, on this machine, with the same model, data and settings on both
sides: sampling (align's `sample` stage vs transformers' `generate`), training (align's `sft` / `dpo`
stages vs TRL's trainer built from the same config), orchestration overhead (a recipe's wall time minus its
stages' work), peak memory (`dpo` with precomputed reference log-probs vs `sft`), and the hardware ceiling
(the model's FLOPs per token against this machine's measured matmul rate).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
from pathlib import Path

import torch
import yaml

from align import api
from align.bench.memory import align_run, peak_rss_mb
from align.data.jsonl import read_jsonl, write_jsonl
from align.data.rows import prompt_completion
from align.engine.fingerprint import stage_seed
from align.generation.decoding import left_padded
from align.generation.prompts import prompt_ids
from align.loading.datasets import load_dataset
from align.loading.models import load_causal_lm, load_tokenizer
from align.runtime.threads import configure_threads

MODEL = "world:base"
SAMPLING = {"n": 8, "temperature": 0.7, "max_new_tokens": 64}


def one_stage_recipe(path: Path, name: str, spec: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"seed": 0, "tracking": "none", "stages": {name: spec}}))
    return path


def run_stage(root: Path, name: str, spec: dict) -> tuple[float, Path]:
    """Run a one-stage recipe through align's engine; its stage wall time and output folder."""
    recipe = one_stage_recipe(root / f"{name}.yaml", name, spec)
    result = api.run(str(recipe), run_dir=root / name, fresh=True)
    summary = next(s for s in result.summaries if s["name"] == name)
    return summary["wall_s"], root / name / name


def matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    """This machine's float32 matmul rate with the threads align uses: the ceiling for a dense model."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def flops_per_token(model, context: float) -> float:
    """Forward FLOPs of one decoded token: 2 per weight of every matmul (the tied output head counted as one),
    plus attention over `context` cached tokens (QK and AV, 2 FLOPs per multiply-add)."""
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    matmul_weights = sum(p.numel() for p in model.parameters()) - embedding + config.vocab_size * config.hidden_size
    return 2 * matmul_weights + 4 * config.num_hidden_layers * config.hidden_size * context


def generated_tokens(new: torch.Tensor, eos: int) -> int:
    """Tokens each row decoded: up to and including its EOS, else all of them."""
    ended = new == eos
    lengths = torch.where(
        ended.any(1), ended.float().argmax(1) + 1, torch.full_like(ended[:, 0], new.shape[1], dtype=torch.long)
    )
    return int(lengths.sum())


@torch.no_grad()
def raw_generate(prompts: list, per_call: int, seed: int) -> tuple[float, int, list[str], float]:
    """transformers' `generate(num_return_sequences=n)`, `per_call` prompts a call, seeded as align seeds its
    blocks (`seed` + the call's first prompt): seconds, tokens decoded, the completions, and the mean context
    length (for the FLOP count)."""
    tokenizer, model = load_tokenizer(MODEL, padding_side="left"), load_causal_lm(MODEL).eval()
    rendered = [prompt_ids(tokenizer, p) for p in prompts]
    n, tokens, contexts, completions = SAMPLING["n"], 0, [], []
    started = time.perf_counter()
    for start in range(0, len(rendered), per_call):
        torch.manual_seed(seed + start)
        ids, mask = left_padded(rendered[start : start + per_call], tokenizer.pad_token_id, model.device)
        sampling = {"do_sample": True, "temperature": SAMPLING["temperature"], "top_k": None}
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=SAMPLING["max_new_tokens"],
            num_return_sequences=n,
            pad_token_id=tokenizer.pad_token_id,
            **sampling,
        )
        new = out[:, ids.shape[1] :]
        decoded = generated_tokens(new, tokenizer.eos_token_id)
        tokens += decoded
        contexts.append(float(mask.sum()) * n / len(new) + decoded / len(new) / 2)
        completions += tokenizer.batch_decode(new, skip_special_tokens=True)
    return time.perf_counter() - started, tokens, completions, sum(contexts) / len(contexts)


def measure_sampling(root: Path, prompts: int) -> dict:
    """align's `sample` stage vs raw `generate` on the same prompts, n, temperature and seeds."""
    rows = load_dataset("world:instruct_train", "prompts", prompts)
    seed = stage_seed(0, "sample")  # the seed align's engine gives a stage named `sample` in a seed-0 run
    raw_s, tokens, raw_texts, context = raw_generate([r["prompt"] for r in rows], per_call=32, seed=seed)
    spec = {
        "stage": "sample",
        "model": MODEL,
        "prompts": "world:instruct_train",
        "limit": prompts,
        "chunk": prompts,
        "backend": "hf",
        **SAMPLING,
    }
    align_s, out = run_stage(root, "sample", spec)
    align_texts = [r["completion"] for r in read_jsonl(out / "data.jsonl")]
    model = load_causal_lm(MODEL)
    per_token = flops_per_token(model, context)
    return {
        "prompts": prompts,
        **SAMPLING,
        "raw_per_call_prompts": 32,
        "tokens": tokens,
        "raw_s": round(raw_s, 2),
        "align_s": round(align_s, 2),
        "raw_tokens_per_s": round(tokens / raw_s),
        "align_tokens_per_s": round(tokens / align_s),
        "speedup": round(raw_s / align_s, 2),
        "identical_samples": sum(a == b for a, b in zip(align_texts, raw_texts)),
        "samples": len(raw_texts),
        "mean_completion_tokens": round(tokens / len(raw_texts), 1),
        "flops_per_token": round(per_token),
        "mean_context": round(context, 1),
    }


def preference_pairs(path: Path, rows: int) -> str:
    """Pairs for the DPO throughput run: each demo's completion chosen, the next demo's rejected."""
    demos = [prompt_completion(r) for r in load_dataset("world:sft_crowd", "sft", rows + 1)]
    write_jsonl(
        path,
        [
            {"prompt": a["prompt"], "chosen": a["completion"], "rejected": b["completion"]}
            for a, b in itertools.pairwise(demos)
        ],
    )
    return str(path)


def training_spec(kind: str, root: Path, steps: int) -> dict:
    spec = {
        "stage": kind,
        "model": MODEL,
        "max_steps": steps,
        "batch_size": 16,
        "max_length": 128,
        "save_steps": steps + 1,
        "logging_steps": 5,
    }
    if kind == "sft":
        spec.update(data="world:sft_crowd", limit=steps * 16)
    else:
        spec.update(data=preference_pairs(root / "pairs.jsonl", steps * 16))
    return spec


def raw_trainer_seconds(kind: str, spec: dict, out: Path) -> float:
    """TRL's own trainer with the config align's stage builds (trainer_args), timed from model load to the
    end of `train()`: what a user writing the TRL script by hand would run."""
    from datasets import Dataset

    from align.stages import dpo, sft
    from align.training.sft import training_rows

    started = time.perf_counter()
    tokenizer, model = load_tokenizer(MODEL, padding_side="right"), load_causal_lm(MODEL)
    if kind == "sft":
        from trl import SFTTrainer

        config = sft.Config(**{k: v for k, v in spec.items() if k != "stage"})
        records, assistant_only = training_rows(load_dataset(config.data, "sft", config.limit), tokenizer)
        trainer = SFTTrainer(
            model=model,
            args=config.trainer_args(out, 0, assistant_only),
            train_dataset=Dataset.from_list(records),
            processing_class=tokenizer,
        )
    else:
        from trl import DPOTrainer

        config = dpo.Config(**{k: v for k, v in spec.items() if k != "stage"})
        rows = load_dataset(config.data, "preference")
        trainer = DPOTrainer(
            model=model,
            args=config.trainer_args(out, 0),
            processing_class=tokenizer,
            train_dataset=Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows]),
        )
    trainer.train()
    return time.perf_counter() - started


def measure_training(kind: str, root: Path, steps: int, repeats: int = 2) -> dict:
    """Samples/s of align's stage vs the raw trainer, alternating, best of `repeats` each."""
    spec = training_spec(kind, root, steps)
    raw, ours = [], []
    for attempt in range(repeats):
        raw.append(raw_trainer_seconds(kind, spec, root / f"raw-{kind}-{attempt}"))
        ours.append(run_stage(root, kind, spec)[0])
    samples = steps * spec["batch_size"]
    return {
        "stage": kind,
        "steps": steps,
        "batch_size": spec["batch_size"],
        "samples": samples,
        "raw_s": [round(s, 2) for s in raw],
        "align_s": [round(s, 2) for s in ours],
        "raw_samples_per_s": round(samples / min(raw), 1),
        "align_samples_per_s": round(samples / min(ours), 1),
        "ratio": round(min(raw) / min(ours), 3),
    }


def measure_overhead(root: Path, recipe: str, smoke: bool) -> dict:
    """`align run` end to end in a fresh process, minus the work its stages recorded (stage.json wall_s)."""
    run_dir = root / f"{recipe}{'-smoke' if smoke else ''}"
    command = align_run(recipe, run_dir, *(["--smoke"] if smoke else []))
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "WANDB_MODE": "offline"}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    stages = [json.loads(p.read_text()) for p in run_dir.glob("*/stage.json")]
    work = sum(s["wall_s"] for s in stages)
    stage_wall = {s["name"]: s["wall_s"] for s in stages}
    return {
        "recipe": recipe,
        "smoke": smoke,
        "command": " ".join(["align run", recipe, "--fresh"] + (["--smoke"] if smoke else [])),
        "wall_s": round(wall, 1),
        "stage_work_s": round(work, 1),
        "stages": len(stages),
        "overhead_s": round(wall - work, 1),
        "overhead_share": round((wall - work) / wall, 4),
        "stage_wall_s": stage_wall,
    }


def main_job_before(learning: Path = Path("reports/learning.json")) -> dict | None:
    """The main job's stage times as `align bench learning` last measured them (xwin n=64, seed 0): the
    'before' of this run's full xwin-pipeline."""
    if not learning.exists():
        return None
    runs = json.loads(learning.read_text()).get("xwin", [])
    main = next((r for r in runs if r.get("group") == "xwin n=64" and r.get("seed") == 0), None)
    return main and {"command": main["command"], "stage_work_s": main["wall_s"], "stage_wall_s": main["stage_wall_s"]}


def measure_peak_memory(root: Path, steps: int) -> list[dict]:
    """Peak RSS of `sft` and of `dpo` (reference log-probs precomputed), same model, batch and length, each
    alone in a fresh process."""
    env = {**os.environ, "WANDB_MODE": "offline"}
    rows = []
    for kind in ("sft", "dpo"):
        recipe = one_stage_recipe(root / f"memory-{kind}.yaml", kind, training_spec(kind, root, steps))
        command = align_run(recipe, root / f"memory-{kind}")
        rows.append({"stage": kind, "steps": steps, "peak_rss_mb": peak_rss_mb(command, env)})
    return [dict(row, ratio=round(row["peak_rss_mb"] / rows[0]["peak_rss_mb"], 3)) for row in rows]


def bench_perf(
    out: Path = Path("reports/perf.md"), root: Path = Path("runs/bench-perf"), full: bool = False, smoke: bool = False
) -> Path:
    from align.bench.perf_report import render_perf

    configure_threads()
    prompts, steps = (16, 4) if smoke else (700 if full else 256, 40)
    results = {
        "command": "align bench perf" + (" --full" if full else ""),
        "threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "matmul_gflops": round(matmul_gflops(), 1),
    }
    results["sampling"] = measure_sampling(root, prompts)
    results["training"] = [measure_training(kind, root, steps, repeats=1 if smoke else 2) for kind in ("sft", "dpo")]
    results["memory"] = measure_peak_memory(root, steps)
    results["overhead"] = [measure_overhead(root, "xwin-pipeline", smoke=True)]
    if full:
        results["main_job_before"] = main_job_before()
        results["overhead"].append(measure_overhead(root, "xwin-pipeline", smoke=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    out.write_text(render_perf(results))
    return out
