"""`distill`: train a student from a teacher, offline, on cached teacher targets (`teacher` stage).

`method`:
- `sft`   CE on the data's own completions (the "SFT w/o KD" baseline);
- `seqkd` CE on the teacher's responses (give the teacher stage's `responses` as `data`);
- `kd`    (1 - λ)·CE + λ·word-level KD, KD = -Σ_v p(v) log q(v) from the cached top-k (MiniLLM's KD baseline);
- `dpkd`  (1 - λ)·CE + λ·DPKD, token-level as the authors' code computes it (`align.training.losses.dpkd_token`): the
          teacher's argmax token is preferred over the student's at every position, the teacher is the reference;
- `onpolicy` TRL's DistillationTrainer: the student generates, the teacher scores, generalised JSD with
          `jsd_beta` (0 = forward KL, 1 = reverse KL as in MiniLLM's objective). The only online method: the
          `teacher` model is loaded next to the student.
λ = `kd_ratio` (0.5 in both papers' code). `kd` and `dpkd` need `targets`: the teacher stage's top-k file for
exactly these rows (checked: same rows, same tokenizer as the student). The teacher is never loaded here.
Rows are encoded as TRL's SFTTrainer encodes them (`align.training.logprobs.encode`); the trainer is transformers'
`Trainer` with the method's loss (`align.training.distill`), so checkpoints, resume, `processes`, DeepSpeed and
LoRA work as in every training stage. With `pretrain_data`, every step adds DPKD's (and MiniLLM's) pretraining term
c·L_PT (c = `lm_coef`, 0.5 in the released code) on a batch of those rows, L_PT = (1 - λ)·CE + λ·KD with the
teacher's cached targets there (`pretrain_targets`), or plain CE without them. The DPKD sequence form (sampled
student responses as "rejected") is the `dpo` stage with the teacher as `ref_model` (see recipes/dpkd.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from align.data.rows import prompt_completion
from align.loading.datasets import load_dataset
from align.loading.digests import check_same_tokenizer
from align.loading.models import load_causal_lm
from align.refs import deferred
from align.stages import trainer
from align.stages.base import StageContext, StageResult
from align.stages.config import TrainingConfig, dataset_field, model_field
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.distill import DistillLoss, load_targets, offline_trainer, onpolicy_trainer

NEEDS_TARGETS = ("kd", "dpkd")
TOKEN_LEVEL = ("kd", "dpkd", "onpolicy")  # these compare token distributions: one tokenizer for both models


class Config(TrainingConfig):
    data: str = dataset_field(
        "sft",
        "prompt/completion rows the student learns from (references, or the teacher stage's responses for seqkd/dpkd)",
        read_by=("model",),
    )
    method: Literal["sft", "seqkd", "kd", "dpkd", "onpolicy"] = Field(description="the method (see the module)")
    targets: str | None = Field(None, description="teacher top-k targets for these rows (kd, dpkd)")
    teacher: str | None = model_field(
        "the teacher the targets came from: lets a tokenizer mismatch fail "
        "before the run (kd, dpkd need the student's tokenizer)",
        None,
    )
    kd_ratio: float = Field(0.5, ge=0, le=1, description="λ in (1 - λ)·CE + λ·distillation loss")
    beta: float = Field(0.1, gt=0, description="DPKD β")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="DPKD label smoothing (0 in the paper)")
    reference_free: bool = Field(False, description="DPKD without the teacher's log-ratio (the paper's ablation)")
    jsd_beta: float = Field(1.0, ge=0, le=1, description="onpolicy: 0 = forward KL, 0.5 = JSD, 1 = reverse KL")
    max_new_tokens: int = Field(64, ge=1, description="onpolicy: tokens the student generates per prompt")
    learning_rate: float = Field(5e-4, gt=0, description="peak learning rate")
    pretrain_data: str | None = dataset_field(
        "lm",
        "text, messages or prompt/completion rows for the pretraining term c·L_PT (offline methods)",
        None,
        read_by=("model",),
    )
    pretrain_targets: str | None = Field(
        None,
        description="teacher top-k targets on pretrain_data: L_PT "
        "mixes in word-level KD (as the released code); without, L_PT = CE",
    )
    pretrain_limit: int | None = Field(None, ge=1, description="first N rows of pretrain_data")
    lm_coef: float = Field(0.5, ge=0, description="c, the pretraining term's weight")

    @model_validator(mode="after")
    def targets_for_token_methods(self):
        if self.pretrain_data and self.method == "onpolicy":
            raise ValueError("pretrain_data applies to the offline methods, not 'onpolicy'")
        if self.pretrain_targets and not self.pretrain_data:
            raise ValueError("pretrain_targets needs pretrain_data (the rows they were computed on)")
        if self.too_long == "drop" and self.method in NEEDS_TARGETS:
            raise ValueError("too_long: drop would part the rows from their cached teacher targets: raise max_length")
        if self.method in NEEDS_TARGETS and not self.targets:
            raise ValueError(f"method {self.method!r} needs `targets` (a teacher stage's targets file)")
        if self.method == "onpolicy" and not self.teacher:
            raise ValueError("method 'onpolicy' needs `teacher` (it scores the student's own samples online)")
        return self

    def trainer_args(self, output_dir: Path, seed: int):
        if self.method == "onpolicy":
            from trl import DistillationConfig

            online = {"beta": self.jsd_beta, "temperature": 1.0, "max_completion_length": self.max_new_tokens}
            return trainer_config(DistillationConfig, output_dir, seed, self, **online)
        from transformers import TrainingArguments

        return trainer_config(TrainingArguments, output_dir, seed, self, remove_unused_columns=False)

    def loss(self) -> DistillLoss:
        return DistillLoss(
            self.method, self.kd_ratio, self.beta, self.label_smoothing, self.reference_free, self.lm_coef
        )


def check(config: Config) -> None:
    """The `trainer:` fields make valid TrainingArguments; a token-level method's teacher shares the student's
    tokenizer (`seqkd` learns from text, so any teacher works there)."""
    trainer.check(config)
    for name in ("targets", "pretrain_targets"):
        path = getattr(config, name)
        if path and not deferred(path) and not Path(path).expanduser().is_file():
            raise ValueError(f"{name}: teacher targets file not found: {path}")
    if config.method in TOKEN_LEVEL and config.teacher and not deferred(config.teacher) and not deferred(config.model):
        check_same_tokenizer(
            config.model,
            config.teacher,
            "teacher",
            f"method {config.method!r} compares token distributions (use `seqkd`, which works across tokenizers)",
        )


def training_rows(path: str, limit: int | None, kind: str = "sft") -> list[dict]:
    """prompt/completion rows of a dataset (a conversation's last assistant turn is its completion; a text row is
    all completion)."""
    return [prompt_completion(r) for r in load_dataset(path, kind, limit)]


def build_trainer(config: Config, ctx: StageContext, rows: list[dict], model, tokenizer):
    """The method's trainer: TRL's on-policy DistillationTrainer, or align's on the cached teacher targets."""
    if config.lora:
        from peft import get_peft_model

        model = get_peft_model(model, config.peft())
    args, shown = (
        config.trainer_args(ctx.work_dir / "checkpoints", ctx.seed),
        callbacks(ctx.log, f"distill ({config.method})"),
    )
    if config.method == "onpolicy":
        teacher = load_causal_lm(config.teacher, dtype=config.dtype)
        return onpolicy_trainer(model, teacher, tokenizer, rows, args, shown)
    targets = load_targets(
        config.targets if config.method in NEEDS_TARGETS else None, tokenizer, config.model, rows, config.teacher
    )
    pretrain = None
    if config.pretrain_data:
        pt_rows = training_rows(config.pretrain_data, config.pretrain_limit, "lm")
        pretrain = (pt_rows, load_targets(config.pretrain_targets, tokenizer, config.model, pt_rows, config.teacher))
    return offline_trainer(
        model, tokenizer, rows, args, config.loss(), targets, pretrain, config.max_length, ctx.seed, shown
    )


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = training_rows(config.data, config.limit)
    return trainer.train(
        config, ctx, rows, lambda model, tokenizer, fit: build_trainer(config, ctx, fit, model, tokenizer)
    )


outputs = trainer.outputs
