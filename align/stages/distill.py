"""`distill`: train a student from a teacher, offline, on cached teacher targets (`teacher` stage).

`method`:
- `sft`   CE on the data's own completions (the "SFT w/o KD" baseline);
- `seqkd` CE on the teacher's responses (give the teacher stage's `responses` as `data`);
- `kd`    (1 - λ)·CE + λ·word-level KD, KD = -Σ_v p(v) log q(v) from the cached top-k (MiniLLM's KD baseline);
- `dpkd`  (1 - λ)·CE + λ·DPKD, token-level as the authors' code computes it (`align.losses.dpkd_token`): the
          teacher's argmax token is preferred over the student's at every position, the teacher is the reference;
- `onpolicy` TRL's DistillationTrainer: the student generates, the teacher scores, generalised JSD with
          `jsd_beta` (0 = forward KL, 1 = reverse KL as in MiniLLM's objective). The only online method: the
          `teacher` model is loaded next to the student.
λ = `kd_ratio` (0.5 in both papers' code). `kd` and `dpkd` need `targets`: the teacher stage's top-k file for
exactly these rows (checked: same rows, same tokenizer as the student). The teacher is never loaded here.
Rows are encoded as TRL's SFTTrainer encodes them (`align.logprobs.encode`); the trainer is transformers'
`Trainer` with this module's `compute_loss`, so checkpoints, resume, `processes`, DeepSpeed and LoRA work as in
every training stage. Not here yet: DPKD's pretraining term.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import torch
from pydantic import Field, model_validator
from transformers import Trainer, TrainingArguments

from align import losses, teacher_targets
from align.data import load_dataset
from align.logprobs import collate, encode
from align.models import load_causal_lm, load_tokenizer
from align.refs import deferred
from align.stages.base import StageContext, StageResult, TrainingConfig, dataset_field, model_field
from align.training import callbacks, configure_threads, run_trainer, save_policy, trainer_config, weights_digest

NEEDS_TARGETS = ("kd", "dpkd")
TOKEN_LEVEL = ("kd", "dpkd", "onpolicy")  # these compare token distributions: one tokenizer for both models


class Config(TrainingConfig):
    data: str = dataset_field("sft", "prompt/completion rows the student learns from (references, or the "
                              "teacher stage's responses for seqkd/dpkd)")
    method: Literal["sft", "seqkd", "kd", "dpkd", "onpolicy"] = Field(description="the method (see the module)")
    targets: Optional[str] = Field(None, description="teacher top-k targets for these rows (kd, dpkd)")
    teacher: Optional[str] = model_field("the teacher the targets came from: lets a tokenizer mismatch fail "
                                         "before the run (kd, dpkd need the student's tokenizer)", None)
    kd_ratio: float = Field(0.5, ge=0, le=1, description="λ in (1 - λ)·CE + λ·distillation loss")
    beta: float = Field(0.1, gt=0, description="DPKD β")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="DPKD label smoothing (0 in the paper)")
    reference_free: bool = Field(False, description="DPKD without the teacher's log-ratio (the paper's ablation)")
    jsd_beta: float = Field(1.0, ge=0, le=1, description="onpolicy: 0 = forward KL, 0.5 = JSD, 1 = reverse KL")
    max_new_tokens: int = Field(64, ge=1, description="onpolicy: tokens the student generates per prompt")
    learning_rate: float = Field(5e-4, gt=0)

    @model_validator(mode="after")
    def targets_for_token_methods(self):
        if self.method in NEEDS_TARGETS and not self.targets:
            raise ValueError(f"method {self.method!r} needs `targets` (a teacher stage's targets file)")
        if self.method == "onpolicy" and not self.teacher:
            raise ValueError("method 'onpolicy' needs `teacher` (it scores the student's own samples online)")
        return self


def trainer_args(config: Config, output_dir: Path, seed: int):
    if config.method == "onpolicy":
        from trl import DistillationConfig

        return trainer_config(DistillationConfig, output_dir, seed=seed, beta=config.jsd_beta, temperature=1.0,
                              max_completion_length=config.max_new_tokens, **config.trainer_kwargs())
    return trainer_config(TrainingArguments, output_dir, seed=seed, remove_unused_columns=False,
                          **config.trainer_kwargs())


def check(config: Config) -> None:
    """The `trainer:` fields make valid TrainingArguments; a token-level method's teacher shares the student's
    tokenizer (`seqkd` learns from text, so any teacher works there)."""
    trainer_args(config, Path("checks"), 0)
    if config.method in TOKEN_LEVEL and config.teacher and not deferred(config.teacher) and not deferred(config.model):
        student, teacher = load_tokenizer(config.model), load_tokenizer(config.teacher)
        if teacher_targets.tokenizer_digest(student) != teacher_targets.tokenizer_digest(teacher):
            raise ValueError(f"method {config.method!r} compares token distributions, but the teacher "
                             f"{config.teacher!r} ({type(teacher).__name__}, {len(teacher)} tokens) and the student "
                             f"{config.model!r} ({type(student).__name__}, {len(student)} tokens) have different "
                             f"tokenizers; use `seqkd`, which works across tokenizers")


class DistillTrainer(Trainer):
    """transformers' Trainer whose loss is the method's, computed by `align.losses` from the batch's cached
    teacher targets (never a teacher model)."""

    def __init__(self, *args, config: Config, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = config
        self.stats: dict[str, list[float]] = {}  # DPKD's per-step stats since the last log

    def log(self, logs: dict, *args, **kwargs) -> None:
        """Add the mean of each DPKD stat since the last log (token agreement, uncached student tokens)."""
        if self.stats and "loss" in logs:
            logs.update({name: sum(values) / len(values) for name, values in self.stats.items()})
            self.stats = {}
        super().log(logs, *args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        student = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        mask = inputs["mask"]
        ce = losses.cross_entropy(student, inputs["input_ids"][:, 1:], mask)
        method = self.config.method
        if method in ("sft", "seqkd"):
            loss = ce
        elif method == "kd":
            loss = losses.mix(ce, losses.forward_kl(student, inputs["teacher_logps"], inputs["teacher_ids"], mask),
                              self.config.kd_ratio)
        else:
            dpkd, stats = losses.dpkd_token(student, inputs["teacher_logps"], inputs["teacher_ids"], mask,
                                            self.config.beta, self.config.label_smoothing, self.config.reference_free)
            loss = losses.mix(ce, dpkd, self.config.kd_ratio)
            for name, value in stats.items():
                self.stats.setdefault(name, []).append(float(value))
        return (loss, logits) if return_outputs else loss


class Collator:
    """Pads encoded rows; places each row's cached teacher top-k at its completion positions."""

    def __init__(self, pad_id: int, max_length: int, targets: teacher_targets.TeacherTargets | None):
        self.pad_id, self.max_length, self.targets = pad_id, max_length, targets

    def __call__(self, features: list[dict]) -> dict:
        batch = collate([(f["input_ids"], f["completion_mask"]) for f in features], self.pad_id, self.max_length)
        out = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask, "mask": batch.mask}
        if self.targets is not None:
            k = self.targets.logps.shape[-1]
            shape = (*batch.mask.shape, k)
            logps, ids = torch.zeros(shape), torch.zeros(shape, dtype=torch.long)
            for i, f in enumerate(features):
                row_logps, row_ids = self.targets.row(f["row"])
                positions = batch.mask[i].nonzero().squeeze(-1)
                n = min(len(positions), len(row_logps))  # a cut at max_length drops the row's last targets
                logps[i, positions[:n]], ids[i, positions[:n]] = row_logps[:n], row_ids[:n]
                batch.mask[i, positions[n:]] = 0
            out.update(teacher_logps=logps, teacher_ids=ids)
        return out


def offline_trainer(config: Config, ctx: StageContext, model, tokenizer, rows: list[dict]) -> DistillTrainer:
    """This module's Trainer on the rows encoded as SFTTrainer would, with the cached teacher targets (kd, dpkd)."""
    from datasets import Dataset

    targets = None
    if config.method in NEEDS_TARGETS:
        targets = teacher_targets.load(Path(config.targets))
        teacher_targets.check_matches(targets, Path(config.targets), tokenizer, config.model, rows)
    encoded = [encode(tokenizer, r["prompt"], r["completion"]) for r in rows]
    dataset = Dataset.from_list([{"input_ids": ids, "completion_mask": m, "row": i}
                                 for i, (ids, m) in enumerate(encoded)])
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return DistillTrainer(model=model, args=trainer_args(config, ctx.work_dir / "checkpoints", ctx.seed),
                          train_dataset=dataset, data_collator=Collator(pad_id, config.max_length, targets),
                          callbacks=callbacks(ctx.log, f"distill ({config.method})"), config=config)


def onpolicy_trainer(config: Config, ctx: StageContext, model, tokenizer, rows: list[dict]):
    """TRL's DistillationTrainer on the rows' prompts (the student writes its own completions)."""
    from datasets import Dataset
    from trl import DistillationTrainer

    teacher = load_causal_lm(config.teacher, dtype=config.dtype)
    return DistillationTrainer(model=model, teacher_model=teacher,
                               args=trainer_args(config, ctx.work_dir / "checkpoints", ctx.seed),
                               train_dataset=Dataset.from_list([{"prompt": r["prompt"]} for r in rows]),
                               processing_class=tokenizer, callbacks=callbacks(ctx.log, "distill (onpolicy)"))


def run(config: Config, ctx: StageContext) -> StageResult:
    configure_threads()
    rows = load_dataset(config.data, "sft", config.limit)
    rows = [{"prompt": r["prompt"], "completion": r["completion"]} if "prompt" in r else
            {"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in rows]
    tokenizer = load_tokenizer(config.model, padding_side="right")
    model = load_causal_lm(config.model, dtype=config.dtype)
    start_weights = weights_digest(model)
    if config.lora:
        from peft import get_peft_model

        model = get_peft_model(model, config.peft())
    build = onpolicy_trainer if config.method == "onpolicy" else offline_trainer
    trainer = build(config, ctx, model, tokenizer, rows)
    final = run_trainer(trainer, ctx.work_dir / "checkpoints")
    save_policy(trainer.model, tokenizer, ctx.out_dir / "model")
    return StageResult(outputs={"model": "model"}, values={"start_weights": start_weights},
                       metrics={**final, "train/examples": len(rows)}, key_metrics=["train/loss"])
