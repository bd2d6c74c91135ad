"""`dpo`: direct preference optimisation and its variants with TRL.

L_DPO = -log sigmoid(beta * [log pi(y_c|x)/ref(y_c|x) - log pi(y_r|x)/ref(y_r|x)]), ref = the frozen
initial policy (or `ref_model`). `loss_type` is any DPOTrainer loss or a list of them with
`loss_weights`: `sigmoid` (DPO), `ipo`, `robust` (cDPO/robust DPO, needs `label_smoothing` > 0),
`hinge`, ...; `simpo` runs TRL's CPO trainer with the SimPO loss (reference-free, length-normalised,
margin `simpo_gamma`). Reference log-probs are precomputed by default so the reference model is not
held in memory during training. Other DPOConfig fields (`ld_alpha`, `f_divergence_type`, ...) go in `trainer:`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from pydantic import Field, field_validator

from align.loading.datasets import load_dataset
from align.loading.digests import check_same_tokenizer
from align.loading.models import load_causal_lm
from align.refs import deferred
from align.stages import trainer
from align.stages.base import StageContext, StageResult
from align.stages.config import TrainingConfig, dataset_field, model_field
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.run import shared_dataset

# DPOTrainer's losses in TRL 1.16 (trl/trainer/dpo_config.py), plus `simpo` (TRL's CPO trainer).
DPO_LOSSES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)


class Config(TrainingConfig):
    data: str = dataset_field("preference", "preference pairs: prompt/chosen/rejected", read_by=("model", "ref_model"))
    ref_model: str | None = model_field("reference policy (default: the initial model)", None)
    beta: float = Field(0.1, gt=0, description="KL strength beta (SimPO: reward scale)")
    loss_type: str | list[str] = Field("sigmoid", description="a DPOTrainer loss, a list of them, or `simpo`")
    loss_weights: list[float] | None = Field(None, description="weights when loss_type is a list")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="cDPO/robust: assumed label-noise rate")
    simpo_gamma: float = Field(0.5, description="SimPO target reward margin")
    precompute_ref_log_probs: bool = Field(True, description="compute reference log-probs once, up front")
    learning_rate: float = Field(5e-6, gt=0, description="peak learning rate")

    @field_validator("loss_type")
    @classmethod
    def known_loss(cls, value):
        names = value if isinstance(value, list) else [value]
        allowed = DPO_LOSSES if isinstance(value, list) else DPO_LOSSES + ("simpo",)
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise ValueError(f"unknown loss {unknown or value} (known: {', '.join(allowed)})")
        return value

    def trainer_args(self, output_dir: Path, seed: int):
        if self.loss_type == "simpo":
            from trl.experimental.cpo import CPOConfig

            simpo = {"loss_type": "simpo", "cpo_alpha": 0.0, "simpo_gamma": self.simpo_gamma}
            return trainer_config(CPOConfig, output_dir, seed, self, **self.preference_fields(), **simpo)
        from trl import DPOConfig

        losses = self.loss_type if isinstance(self.loss_type, list) else [self.loss_type]
        dpo = {
            "loss_type": losses,
            "loss_weights": self.loss_weights,
            "precompute_ref_log_probs": self.precompute_ref_log_probs,
        }
        return trainer_config(DPOConfig, output_dir, seed, self, **self.preference_fields(), **dpo)

    def preference_fields(self) -> dict:
        return {"max_length": self.max_length, "beta": self.beta, "label_smoothing": self.label_smoothing}


def check(config: Config) -> None:
    """The loss settings and `trainer:` fields make a valid DPOConfig (or CPOConfig for SimPO); a `ref_model`
    tokenises as the policy does (its log-probs are compared token by token)."""
    trainer.check(config)
    if config.ref_model and not deferred(config.ref_model) and not deferred(config.model):
        check_same_tokenizer(
            config.model,
            config.ref_model,
            "reference model",
            "DPO compares the policy's and the reference's log-probs of the same tokens",
        )


def build_trainer(config: Config, ctx: StageContext, model, tokenizer, records: list[dict]):
    args = config.trainer_args(ctx.work_dir / "checkpoints", ctx.seed)
    dataset = shared_dataset(records, ctx.work_dir / "dataset", args)
    common = dict(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=callbacks(ctx.log, f"dpo ({config.loss_type})"),
        peft_config=config.peft(),
    )
    if config.loss_type == "simpo":
        from trl.experimental.cpo import CPOTrainer

        return CPOTrainer(**common)
    from trl import DPOTrainer

    ref = load_causal_lm(config.ref_model, dtype=config.dtype) if config.ref_model else None
    return DPOTrainer(ref_model=ref, **common)


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "preference", config.limit)
    records = [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows]
    return trainer.train(config, ctx, records, partial(build_trainer, config, ctx), count="train/pairs")


outputs = trainer.outputs
