"""`kto`: Kahneman-Tversky optimisation (arXiv 2402.01306) with TRL's `KTOTrainer`, on unpaired feedback.

Rows are prompt/completion/label: a completion marked desirable (true) or undesirable (false), with no pair needed
(a `select` stage with `rule: label` makes them from scored samples). The loss pushes the policy's log-ratio to the
reference up on desirable completions and down on undesirable ones, weighted by `desirable_weight` and
`undesirable_weight` (the paper: keep desirable_weight x n_desirable / (undesirable_weight x n_undesirable) within
[1, 4/3]). Other KTOConfig fields go in `trainer:`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from pydantic import Field

from align.loading.datasets import load_dataset
from align.loading.models import load_causal_lm
from align.refs import deferred
from align.stages import trainer
from align.stages.base import StageContext, StageResult
from align.stages.config import TrainingConfig, dataset_field, model_field
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.run import shared_dataset


class Config(TrainingConfig):
    data: str = dataset_field(
        "unpaired", "prompt/completion/label rows (label: true = desirable)", read_by=("model", "ref_model")
    )
    ref_model: str | None = model_field("reference policy (default: the initial model)", None)
    beta: float = Field(0.1, gt=0, description="KL strength beta")
    desirable_weight: float = Field(1.0, gt=0, description="weight of the desirable examples' loss")
    undesirable_weight: float = Field(1.0, gt=0, description="weight of the undesirable examples' loss")
    learning_rate: float = Field(5e-7, gt=0, description="peak learning rate (TRL's KTO default)")

    def trainer_args(self, output_dir: Path, seed: int):
        from trl import KTOConfig

        kto = {
            "beta": self.beta,
            "desirable_weight": self.desirable_weight,
            "undesirable_weight": self.undesirable_weight,
            "max_length": self.max_length,
        }
        return trainer_config(KTOConfig, output_dir, seed, self, **kto)


def both_labels(rows: list[dict], source: str) -> None:
    """KTO learns from the contrast: data with only desirable (or only undesirable) rows is refused."""
    labels = {row["label"] for row in rows}
    if len(labels) < 2:
        only = "desirable (true)" if True in labels else "undesirable (false)"
        raise ValueError(f"{source}: every row is labelled {only}: KTO needs both labels")


def check(config: Config) -> None:
    """The KTOConfig builds; the data has both labels."""
    trainer.check(config)
    if not deferred(config.data):
        both_labels(load_dataset(config.data, "unpaired", config.limit), config.data)


def build_trainer(config: Config, ctx: StageContext, model, tokenizer, records: list[dict]):
    from trl import KTOTrainer

    args = config.trainer_args(ctx.work_dir / "checkpoints", ctx.seed)
    return KTOTrainer(
        model=model,
        ref_model=load_causal_lm(config.ref_model, dtype=config.dtype) if config.ref_model else None,
        args=args,
        train_dataset=shared_dataset(records, ctx.work_dir / "dataset", args),
        processing_class=tokenizer,
        callbacks=callbacks(ctx.log, "kto"),
        peft_config=config.peft(),
    )


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "unpaired", config.limit)
    both_labels(rows, config.data)
    records = [{k: r[k] for k in ("prompt", "completion", "label")} for r in rows]
    return trainer.train(config, ctx, records, partial(build_trainer, config, ctx), count="train/examples")


outputs = trainer.outputs
