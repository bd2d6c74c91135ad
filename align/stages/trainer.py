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

from align.errors import AlignError
from align.loading.datasets import load_dataset
from align.loading.digests import weights_digest
from align.loading.models import load_causal_lm, load_tokenizer
from align.refs import deferred
from align.runtime.threads import configure_threads
from align.stages.base import StageContext, StageResult
from align.stages.config import TrainingConfig
from align.training.fit import rows_without_room
from align.training.run import run_trainer, save_policy
from align.training.sft import assistant_masks_available


def load_policy(config: TrainingConfig, ctx: StageContext):
    """The model to train, `config.model`, and its tokenizer (padding on the right, as TRL's trainers pad)."""
    return load_causal_lm(config.model, dtype=config.dtype), load_tokenizer(config.model, padding_side="right")


def fitting_rows(config: TrainingConfig, rows: list[dict], tokenizer, source: str) -> tuple[list[dict], int]:
    """The rows that keep a completion token within `max_length`, and how many did not: those fail the stage
    (`too_long: fail`, naming how many and the first) or are dropped (`too_long: drop`)."""
    lacking = rows_without_room(tokenizer, rows, config.max_length, assistant_masks_available(tokenizer))
    if lacking and config.too_long == "fail":
        raise AlignError(
            f"{source}: {len(lacking)} of {len(rows)} rows keep no completion token within "
            f"max_length={config.max_length} (record {lacking[0] + 1} is the first): raise max_length, "
            f"shorten their prompts, or set too_long: drop"
        )
    dropped = set(lacking)
    return [row for index, row in enumerate(rows) if index not in dropped], len(lacking)


def train(
    config: TrainingConfig,
    ctx: StageContext,
    rows: list[dict],
    build: Callable,
    *,
    load: Callable = load_policy,
    count: str | None = "train/examples",
    after: Callable | None = None,
    key_metrics: tuple[str, ...] = ("train/loss",),
) -> StageResult:
    """Run the skeleton on `rows` (the ones that fit `max_length`; `build(model, tokenizer, rows) -> trainer`).
    `count`: the metric counting the rows trained on; `after(trainer) -> metrics`: what the trained model measures
    before it is saved (a reward model's held-out accuracy)."""
    configure_threads()
    model, tokenizer = load(config, ctx)
    start_weights = weights_digest(model)
    rows, dropped = fitting_rows(config, rows, tokenizer, str(getattr(config, "data", "the data")))
    trainer = build(model, tokenizer, rows)
    final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    measured = after(trainer) if after else {}
    save_policy(trainer.model, tokenizer, ctx.out_dir / "model")
    counts = ({count: len(rows)} if count else {}) | ({"train/dropped_too_long": dropped} if dropped else {})
    return StageResult(
        outputs={"model": "model"},
        values={"start_weights": start_weights},
        metrics={**final, **counts, **measured},
        key_metrics=list(key_metrics),
    )


def check(config: TrainingConfig) -> None:
    """The stage's trainer config builds with its `trainer:` fields (an unknown or misspelt field fails here,
    before the run), and, where the data and the model are known, every row keeps a completion token within
    `max_length` (or `too_long: drop` is set)."""
    config.trainer_args(Path("checks"), 0)
    data, model = getattr(config, "data", None), config.model or getattr(config, "tokenizer", None)
    if data is None or model is None or deferred(data) or deferred(model):
        return
    kind = type(config).model_fields["data"].json_schema_extra["kind"]
    fitting_rows(config, load_dataset(data, kind, config.limit), load_tokenizer(model, padding_side="right"), data)


def outputs(config: TrainingConfig) -> set[str]:
    """What `${stage.NAME}` may read of a training stage: its saved model (checked before the run)."""
    return {"model"}
