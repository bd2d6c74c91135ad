"""`sample`: n completions per prompt from a policy (vLLM on GPU, HF `generate` otherwise).

Output rows keep every column of the prompt row (`answer`, `constraints`, ...) and add `completion`,
`sample_index` and `policy`, so a scorer downstream sees what it needs. Prompts are sampled in chunks
that are saved as they finish: a killed stage resumes at the first unfinished chunk, with the same
samples it would have drawn (each chunk has its own seed).
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field

from align.data.jsonl import read_jsonl, write_jsonl
from align.data.rows import prompt_text
from align.generation.generators import SamplingParams, make_generator
from align.loading.datasets import load_dataset
from align.refs import deferred
from align.runtime.distributed import is_node_main
from align.stages.base import StageContext, StageResult
from align.stages.config import StageConfig, dataset_field, model_field, processes_field, top_p_field


class Config(StageConfig):
    model: str = model_field("policy to sample from")
    prompts: str = dataset_field("prompts", "dataset with a `prompt` column", read_by=("model",))
    n: int = Field(64, ge=1, description="completions per prompt (Xwin-Set: 64; ReST-EM MATH: 32)")
    temperature: float = Field(1.0, ge=0, description="0 = greedy")
    top_p: float = top_p_field()
    top_k: int = Field(0, ge=0, description="0 = no top-k cut (ReST-EM used 40)")
    max_new_tokens: int = Field(64, ge=1, description="tokens generated per completion at most")
    unique: bool = Field(False, description="drop repeated completions of a prompt (Xwin-Set: unique)")
    limit: int | None = Field(None, ge=1, description="first N prompts (smoke runs)")
    chunk: int = Field(256, ge=1, description="prompts per saved chunk (the resume granularity)")
    policy: str | None = Field(None, description="label written to the `policy` column (default: model)")
    backend: Literal["auto", "hf", "vllm"] = Field("auto", description="auto = vLLM when CUDA and vllm are there")
    processes: int = processes_field()


def check(config: Config) -> None:
    """Refuse an `n` whose samples cannot fit in memory (a stage holds all its samples before writing them)."""
    prompts = config.limit or 1
    if not deferred(config.prompts):
        prompts = len(load_dataset(config.prompts, "prompts", config.limit))
    needed = prompts * config.n * (4 * config.max_new_tokens + 300)  # bytes: text, row copy, JSON
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > memory // 2:
        raise ValueError(
            f"n={config.n} samples of {prompts} prompts need about {needed / 2**30:.0f} GiB, more "
            f"than half of this machine's {memory / 2**30:.0f} GiB: lower `n` or split the prompts"
        )


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.prompts, "prompts", config.limit)
    generator = None
    out: list[dict] = []
    with ctx.progress(f"sample: {config.n} per prompt", total=len(rows)) as advance:
        for index, start in enumerate(range(0, len(rows), config.chunk)):
            chunk_rows = rows[start : start + config.chunk]
            saved = ctx.work_dir / f"chunk-{index:05d}.jsonl"
            if saved.exists():
                out += read_jsonl(saved)
                advance(len(chunk_rows))
                continue
            generator = generator or make_generator(config.model, backend=config.backend)
            params = SamplingParams(
                n=config.n,
                temperature=config.temperature,
                top_p=config.top_p,
                top_k=config.top_k,
                max_new_tokens=config.max_new_tokens,
                seed=ctx.seed + index,
            )
            completions = generator.generate([r["prompt"] for r in chunk_rows], params, advance)
            samples = [
                dict(row, completion=c, sample_index=i, policy=config.policy or config.model)
                for row, outs in zip(chunk_rows, completions)
                for i, c in enumerate(outs)
            ]
            if is_node_main():  # every rank holds every sample; one writes them
                write_jsonl(saved, samples)
            out += samples
    if config.unique:
        seen: set = set()
        out = [s for s in out if (key := (prompt_text(s["prompt"]), s["completion"])) not in seen and not seen.add(key)]
    write_jsonl(ctx.out_dir / "data.jsonl", out)
    per_prompt = len(out) / len(rows)
    return StageResult(
        outputs={"data": "data.jsonl"},
        metrics={"sample/prompts": len(rows), "sample/completions": len(out), "sample/unique_per_prompt": per_prompt},
        key_metrics=[],
    )


def outputs(config: Config) -> set[str]:
    """What `${stage.NAME}` may read of this stage (checked before the run)."""
    return {"data"}
