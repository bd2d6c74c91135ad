"""Training the world's models in memory (`align world build`): the base and the teacher from scratch, the rater
from the teacher, each through the `sft` stage's trainer and saved in fp16 (the shipped assets stay small)."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from align.bench.world_data import ModelSpec
from align.stages.base import StageContext
from align.stages.config import TrainingConfig
from align.stages.sft import build_trainer
from align.training.run import run_trainer


def fine_tune_and_save(model, tokenizer, rows: list[dict], out: Path, seed: int, description: str, **knobs) -> dict:
    """Fine-tune `model` on `rows` (checkpoints in a temp dir that goes with it; warmup 3%, a log every 50 steps),
    save it in fp16 with its tokenizer into `out`, and return the trainer's final metrics. `knobs`: epochs,
    learning_rate, batch_size, max_length."""
    config = TrainingConfig(model="(in memory)", warmup=0.03, save_steps=10**9, logging_steps=50, **knobs)
    with tempfile.TemporaryDirectory() as work:
        ctx = StageContext(out_dir=out, work_dir=Path(work), seed=seed, log=lambda *a: None)
        trainer = build_trainer(config, ctx, rows, model, tokenizer, description)
        final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    trainer.model.to(torch.float16).save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    return final


def train_world_model(
    spec: ModelSpec, corpus: list[dict], tokenizer, out: Path, seed: int, batch_size: int, name: str
) -> dict:
    """A Llama of `spec`'s size, seeded, trained from scratch on `corpus`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    special = {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    size = {
        "hidden_size": spec.hidden,
        "intermediate_size": 3 * spec.hidden,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.heads,
    }
    config = LlamaConfig(
        vocab_size=len(tokenizer), max_position_embeddings=256, tie_word_embeddings=True, **size, **special
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    final = fine_tune_and_save(
        model,
        tokenizer,
        corpus,
        out,
        seed,
        f"world: {name}",
        epochs=spec.epochs,
        learning_rate=spec.learning_rate,
        batch_size=batch_size,
        max_length=128,
    )
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_loss": final.get("train/loss"),
        **asdict(spec),
    }
