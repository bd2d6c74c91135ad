"""`dpo`: direct preference optimisation and its variants with TRL.

L_DPO = -log sigmoid(beta * [log pi(y_c|x)/ref(y_c|x) - log pi(y_r|x)/ref(y_r|x)]), ref = the frozen
initial policy (or `ref_model`). `loss_type` is any DPOTrainer loss or a list of them with
`loss_weights`: `sigmoid` (DPO), `ipo`, `robust` (cDPO/robust DPO, needs `label_smoothing` > 0),
`hinge`, ...; `simpo` runs TRL's CPO trainer with the SimPO loss (reference-free, length-normalised,
margin `simpo_gamma`). Reference log-probs are precomputed by default so the reference model is not
held in memory during training.
"""
from __future__ import annotations

from typing import Optional, Union

from pydantic import Field

from align.data import load_dataset
from align.engine import StageContext, StageResult
from align.models import load_causal_lm, load_tokenizer, locate_model
from align.stages.base import TrainingConfig
from align.training import callbacks, configure_threads, run_trainer, save_policy, trainer_config, weights_digest


class Config(TrainingConfig):
    data: str = Field(description="preference pairs: prompt/chosen/rejected")
    ref_model: Optional[str] = Field(None, description="reference policy (default: the initial model)")
    beta: float = Field(0.1, gt=0, description="KL strength beta (SimPO: reward scale)")
    loss_type: Union[str, list[str]] = Field("sigmoid", description="DPOTrainer loss(es), or `simpo`")
    loss_weights: Optional[list[float]] = Field(None, description="weights when loss_type is a list")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="cDPO/robust: assumed label-noise rate")
    simpo_gamma: float = Field(0.5, description="SimPO target reward margin")
    precompute_ref_log_probs: bool = Field(True, description="compute reference log-probs once, up front")
    learning_rate: float = Field(5e-6, gt=0)


def check(config: Config) -> None:
    load_dataset(config.data, "preference", config.limit)
    locate_model(config.model)
    if config.ref_model:
        locate_model(config.ref_model)


def build_trainer(config: Config, ctx: StageContext, model, tokenizer, dataset, trainer_callbacks, peft):
    if config.loss_type == "simpo":
        from trl.experimental.cpo import CPOConfig, CPOTrainer

        args = trainer_config(CPOConfig, ctx.work_dir / "checkpoints", seed=ctx.seed, max_length=config.max_length,
                              beta=config.beta, loss_type="simpo", cpo_alpha=0.0, simpo_gamma=config.simpo_gamma,
                              label_smoothing=config.label_smoothing, **config.trainer_kwargs())
        return CPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          callbacks=trainer_callbacks, peft_config=peft)
    from trl import DPOConfig, DPOTrainer

    args = trainer_config(DPOConfig, ctx.work_dir / "checkpoints", seed=ctx.seed, max_length=config.max_length,
                          beta=config.beta, loss_type=config.loss_type if isinstance(config.loss_type, list)
                          else [config.loss_type], loss_weights=config.loss_weights,
                          label_smoothing=config.label_smoothing,
                          precompute_ref_log_probs=config.precompute_ref_log_probs, **config.trainer_kwargs())
    ref = load_causal_lm(config.ref_model, dtype=config.dtype) if config.ref_model else None
    return DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=dataset, processing_class=tokenizer,
                      callbacks=trainer_callbacks, peft_config=peft)


def run(config: Config, ctx: StageContext) -> StageResult:
    from datasets import Dataset

    configure_threads()
    rows = load_dataset(config.data, "preference", config.limit)
    tokenizer = load_tokenizer(config.model, padding_side="right")
    model = load_causal_lm(config.model, dtype=config.dtype)
    start_weights = weights_digest(model)
    dataset = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows])
    trainer = build_trainer(config, ctx, model, tokenizer, dataset,
                            callbacks(ctx.log, f"dpo ({config.loss_type})"), config.peft())
    final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    save_policy(trainer.model, tokenizer, ctx.out_dir / "model")
    return StageResult(outputs={"model": "model", "start_weights": start_weights},
                       metrics={**final, "train/pairs": len(rows)})
