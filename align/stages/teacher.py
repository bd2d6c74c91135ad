"""`teacher`: offline teacher targets for distillation, computed once and reused by every student run.

- `responses`: the teacher's sampled responses to the prompts (`samples` each, at `temperature`; MiniLLM and DPKD
  sample their SeqKD/"pseudo" data at T = 1.0, top-k 0, top-p 1.0), as prompt/completion rows;
- `responses_targets` / `references_targets`: the teacher's top-k next-token log-probs at every completion
  position of its responses and/or of the data's own completions (see `align.training.teacher_targets`).
Student stages read these files; the teacher is never loaded while a student trains. Assumes the rows fit in
memory; targets cost k x (4 + 4) bytes per completion token.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from align.data.jsonl import write_jsonl
from align.data.rows import completion_text, prompt_completion
from align.generation.generators import SamplingParams, make_generator
from align.loading.datasets import load_dataset
from align.loading.digests import tokenizer_digest, weights_digest
from align.loading.models import load_causal_lm, load_tokenizer, locate_model
from align.refs import deferred
from align.stages.base import StageContext, StageResult
from align.stages.config import StageConfig, dataset_field, model_field
from align.training import teacher_targets
from align.training.logprobs import completion_logprobs, encode


class Config(StageConfig):
    model: str = model_field("the teacher")
    data: str = dataset_field(
        "teacher",
        "prompts (with `completion` too when targets_on includes references), conversations (the "
        "last assistant turn is the reference), or `text` rows (all reference: respond false)",
        read_by=("model",),
    )
    targets_on: list[Literal["responses", "references"]] = Field(
        ["responses"], description="row sets to cache top-k targets on: the teacher's responses, the data's own"
    )
    top_k: int = Field(20, ge=1, description="next-token classes kept per position (vocabulary size = exact)")
    respond: bool = Field(True, description="sample the teacher's responses (the SeqKD data)")
    samples: int = Field(1, ge=1, description="teacher responses per prompt")
    temperature: float = Field(1.0, ge=0, description="sampling temperature of the responses (0 = greedy)")
    max_new_tokens: int = Field(64, ge=1, description="tokens per teacher response at most")
    max_length: int = Field(512, ge=8, description="tokens per scored sequence")
    batch_size: int = Field(32, ge=1, description="rows per forward pass when scoring")
    limit: int | None = Field(None, ge=1, description="first N rows (smoke runs)")
    backend: Literal["auto", "hf", "vllm"] = Field(
        "auto", description="generation backend: auto = vLLM when CUDA and vllm are there"
    )


def check(config: Config) -> None:
    """References need completions to score; targets on responses need responses; text rows have no prompt."""
    if "responses" in config.targets_on and not config.respond:
        raise ValueError("targets_on includes responses, but respond is false")
    if deferred(config.data):
        return
    rows = load_dataset(config.data, "teacher", config.limit)
    text = next((i for i, r in enumerate(rows) if "text" in r), None)
    if config.respond and text is not None:
        raise ValueError(
            f"{config.data}: record {text + 1} is a `text` row, with no prompt to respond to "
            "(text rows take respond: false, targets_on: [references])"
        )
    if "references" in config.targets_on:
        missing = next((i for i, r in enumerate(map(as_prompted, rows)) if "completion" not in r), None)
        if missing is not None:
            raise ValueError(
                f"{config.data}: record {missing + 1} has no `completion` to cache targets on "
                f"(targets_on includes references)"
            )


def teacher_rows(config: Config) -> list[dict]:
    """The data as prompts (a conversation: everything before its last assistant turn, which is its reference; a
    text row: an empty prompt, all reference, as the student's pretraining term reads it)."""
    return [as_prompted(r) for r in load_dataset(config.data, "teacher", config.limit)]


def as_prompted(row: dict) -> dict:
    return prompt_completion(row) if "messages" in row or "text" in row else row


def cut_rows(tokenizer, rows: list[dict], scored: list, max_length: int) -> int:
    """Rows whose completion ran past max_length: a student training on more of them refuses these targets."""
    return sum(
        sum(encode(tokenizer, r["prompt"], r["completion"])[1][1:]) > len(s.token_logprobs)
        for r, s in zip(rows, scored)
    )


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = teacher_rows(config)
    outputs, metrics = {}, {}
    row_sets = {}
    if "references" in config.targets_on:
        row_sets["references"] = [{"prompt": r["prompt"], "completion": completion_text(r["completion"])} for r in rows]
    if config.respond:
        generator = make_generator(config.model, backend=config.backend)
        params = SamplingParams(
            n=config.samples, temperature=config.temperature, max_new_tokens=config.max_new_tokens, seed=ctx.seed
        )
        with ctx.progress(f"teacher: {config.samples} response(s) per prompt", total=len(rows)) as advance:
            outs = generator.generate([r["prompt"] for r in rows], params, advance)
        del generator
        responses = [
            {"prompt": r["prompt"], "completion": c, "sample_index": i, "policy": config.model}
            for r, cs in zip(rows, outs)
            for i, c in enumerate(cs)
        ]
        write_jsonl(ctx.out_dir / "responses.jsonl", responses)
        outputs["responses"] = "responses.jsonl"
        if "responses" in config.targets_on:
            row_sets["responses"] = responses
    tokenizer = load_tokenizer(config.model, padding_side="right")
    model = load_causal_lm(config.model, dtype="float32")
    meta = {
        "teacher": config.model,
        "teacher_weights": weights_digest(model),
        "tokenizer": tokenizer_digest(tokenizer),
        "top_k": config.top_k,
        "max_length": config.max_length,
        "model_dir": locate_model(config.model),
    }
    for name, row_set in row_sets.items():
        with ctx.progress(f"teacher: top-{config.top_k} on {name}", total=len(row_set)) as advance:
            scored = completion_logprobs(
                model, tokenizer, row_set, config.batch_size, config.top_k, config.max_length, advance
            )
        teacher_targets.save(
            ctx.out_dir / f"{name}.targets.safetensors", scored, {**meta, "rows": teacher_targets.rows_digest(row_set)}
        )
        outputs[f"{name}_targets"] = f"{name}.targets.safetensors"
        tokens = sum(len(s.token_logprobs) for s in scored)
        if tokens == 0:
            raise ValueError(
                f"no {name} row keeps a completion token within max_length={config.max_length}: raise max_length"
            )
        metrics[f"teacher/{name}_tokens"] = tokens
        metrics[f"teacher/{name}_cut_rows"] = cut_rows(tokenizer, row_set, scored, config.max_length)
        metrics[f"teacher/{name}_logprob_per_token"] = sum(sum(s.token_logprobs) for s in scored) / max(tokens, 1)
    return StageResult(outputs=outputs, metrics=metrics, key_metrics=[])


def outputs(config: Config) -> set[str]:
    """What `${stage.NAME}` may read of this stage (checked before the run)."""
    return ({"responses"} if config.respond else set()) | {f"{name}_targets" for name in config.targets_on}
