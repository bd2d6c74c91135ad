"""The skeleton every training stage runs (`sft`, `pretrain`, `dpo`, `distill`, `reward`, and the stages to come):

    load the start model -> digest its weights -> build the stage's trainer -> train, resuming from the newest
    checkpoint a killed attempt left -> save the model (LoRA merged) -> StageResult

A training stage supplies only what differs: its `Config.trainer_args` (the TRL config it trains with), its
`build(model, tokenizer) -> trainer`, and, when the model does not come from `config.model`, its `load`. The
start weights' digest lets a run prove where training started (ReST-EM's M-step: always the base).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from align.loading.digests import weights_digest
from align.loading.models import load_causal_lm, load_tokenizer
from align.runtime.threads import configure_threads
from align.stages.base import StageContext, StageResult
from align.stages.config import TrainingConfig
from align.training.run import run_trainer, save_policy


def load_policy(config: TrainingConfig, ctx: StageContext):
    """The model to train, `config.model`, and its tokenizer (padding on the right, as TRL's trainers pad)."""
    return load_causal_lm(config.model, dtype=config.dtype), load_tokenizer(config.model, padding_side="right")


def train(
    config: TrainingConfig,
    ctx: StageContext,
    build: Callable,
    *,
    load: Callable = load_policy,
    counts: dict | None = None,
    after: Callable | None = None,
    key_metrics: tuple[str, ...] = ("train/loss",),
) -> StageResult:
    """Run the skeleton. `counts`: metrics known before training (rows, pairs); `after(trainer) -> metrics`: what
    the trained model measures before it is saved (a reward model's held-out accuracy)."""
    configure_threads()
    model, tokenizer = load(config, ctx)
    start_weights = weights_digest(model)
    trainer = build(model, tokenizer)
    final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    measured = after(trainer) if after else {}
    save_policy(trainer.model, tokenizer, ctx.out_dir / "model")
    return StageResult(
        outputs={"model": "model"},
        values={"start_weights": start_weights},
        metrics={**final, **(counts or {}), **measured},
        key_metrics=list(key_metrics),
    )


def check(config: TrainingConfig) -> None:
    """The stage's trainer config builds with its `trainer:` fields (an unknown or misspelt field fails here,
    before the run)."""
    config.trainer_args(Path("checks"), 0)
