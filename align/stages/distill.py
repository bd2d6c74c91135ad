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
`Trainer` with this module's `compute_loss`, so checkpoints, resume, `processes`, DeepSpeed and LoRA work as in
every training stage. With `pretrain_data`, every step adds DPKD's (and MiniLLM's) pretraining term
c·L_PT (c = `lm_coef`, 0.5 in the released code) on a batch of those rows, L_PT = (1 - λ)·CE + λ·KD with the
teacher's cached targets there (`pretrain_targets`), or plain CE without them. The DPKD sequence form (sampled
student responses as "rejected") is the `dpo` stage with the teacher as `ref_model` (see recipes/dpkd.yaml).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Literal, Optional

import torch
from pydantic import Field, model_validator
from transformers import Trainer, TrainingArguments

from align.training import losses
from align.training import teacher_targets
from align.data.rows import prompt_completion
from align.loading.datasets import load_dataset
from align.training.logprobs import collate, encode
from align.loading.digests import check_same_tokenizer
from align.loading.models import load_causal_lm, load_tokenizer
from align.refs import deferred
from align.stages.base import StageContext, StageResult, TrainingConfig, dataset_field, model_field
from align.loading.digests import weights_digest
from align.runtime.threads import configure_threads
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from align.training.run import run_trainer, save_policy

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
    pretrain_data: Optional[str] = dataset_field("sft", "rows for the pretraining term c·L_PT (offline methods)",
                                                 None)
    pretrain_targets: Optional[str] = Field(None, description="teacher top-k targets on pretrain_data: L_PT "
                                            "mixes in word-level KD (as the released code); without, L_PT = CE")
    pretrain_limit: Optional[int] = Field(None, ge=1, description="first N rows of pretrain_data")
    lm_coef: float = Field(0.5, ge=0, description="c, the pretraining term's weight")

    @model_validator(mode="after")
    def targets_for_token_methods(self):
        if self.pretrain_data and self.method == "onpolicy":
            raise ValueError("pretrain_data applies to the offline methods, not 'onpolicy'")
        if self.pretrain_targets and not self.pretrain_data:
            raise ValueError("pretrain_targets needs pretrain_data (the rows they were computed on)")
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
        check_same_tokenizer(config.model, config.teacher, "teacher",
                             f"method {config.method!r} compares token distributions (use `seqkd`, which works "
                             f"across tokenizers)")


class DistillTrainer(Trainer):
    """transformers' Trainer whose loss is the method's, computed by `align.training.losses` from the batch's cached
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

    def forward(self, model, inputs: dict, prefix: str = ""):
        """The batch's logits, the student's shifted log-probs and its CE on the completion tokens."""
        ids = inputs[f"{prefix}input_ids"]
        logits = model(input_ids=ids, attention_mask=inputs[f"{prefix}attention_mask"]).logits
        student = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        return logits, student, losses.cross_entropy(student, ids[:, 1:], inputs[f"{prefix}mask"])

    def record(self, stats: dict) -> None:
        for name, value in stats.items():
            self.stats.setdefault(name, []).append(float(value))

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        logits, student, ce = self.forward(model, inputs)
        mask, config = inputs["mask"], self.config
        if config.method in ("sft", "seqkd"):
            loss = ce
        elif config.method == "kd":
            loss = losses.mix(ce, losses.forward_kl(student, inputs["teacher_logps"], inputs["teacher_ids"], mask),
                              config.kd_ratio)
        else:
            dpkd, stats = losses.dpkd_token(student, inputs["teacher_logps"], inputs["teacher_ids"], mask,
                                            config.beta, config.label_smoothing, config.reference_free)
            loss = losses.mix(ce, dpkd, config.kd_ratio)
            self.record(stats)
        if "pt_input_ids" in inputs:  # c·L_PT on this step's pretraining batch
            _, pt_student, pt = self.forward(model, inputs, "pt_")
            if "pt_teacher_logps" in inputs:
                kd = losses.forward_kl(pt_student, inputs["pt_teacher_logps"], inputs["pt_teacher_ids"],
                                       inputs["pt_mask"])
                pt = losses.mix(pt, kd, config.kd_ratio)
            loss = loss + config.lm_coef * pt
            self.record({"pt/loss": pt.detach()})
        return (loss, logits) if return_outputs else loss


def place_targets(mask: torch.Tensor, rows: list[int], targets: teacher_targets.TeacherTargets):
    """[B, T, k] teacher log-probs and ids at each row's completion positions; where a row was cut at
    max_length, its last targets are dropped (and the mask stays consistent with them)."""
    shape = (*mask.shape, targets.logps.shape[-1])
    logps, ids = torch.zeros(shape), torch.zeros(shape, dtype=torch.long)
    for i, row in enumerate(rows):
        row_logps, row_ids = targets.row(row)
        positions = mask[i].nonzero().squeeze(-1)
        n = min(len(positions), len(row_logps))
        logps[i, positions[:n]], ids[i, positions[:n]] = row_logps[:n], row_ids[:n]
        mask[i, positions[n:]] = 0
    return logps, ids


class Collator:
    """Pads encoded rows and places each row's cached teacher top-k at its completion positions; with a
    pretraining set, adds a batch of its rows (`pt_*`), drawn from the main batch's row ids so that a resumed
    run draws the same ones."""

    def __init__(self, pad_id: int, max_length: int, targets, pretrain: tuple[list, object] | None = None,
                 seed: int = 0):
        self.pad_id, self.max_length, self.targets = pad_id, max_length, targets
        self.pretrain, self.seed = pretrain, seed

    def encode(self, encoded: list, rows: list[int], targets, prefix: str = "") -> dict:
        batch = collate(encoded, self.pad_id, self.max_length)
        out = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask, "mask": batch.mask}
        if targets is not None:
            out["teacher_logps"], out["teacher_ids"] = place_targets(batch.mask, rows, targets)
        return {prefix + name: value for name, value in out.items()}

    def __call__(self, features: list[dict]) -> dict:
        rows = [f["row"] for f in features]
        out = self.encode([(f["input_ids"], f["completion_mask"]) for f in features], rows, self.targets)
        if self.pretrain:
            encoded, targets = self.pretrain
            picks = random.Random(f"{self.seed}-{rows}").sample(range(len(encoded)), min(len(rows), len(encoded)))
            out.update(self.encode([encoded[i] for i in picks], picks, targets, "pt_"))
        return out


def load_targets(path: str | None, tokenizer, config: Config, rows: list[dict]):
    """Cached teacher targets that fit these rows and this student's tokenizer (None when not given)."""
    if not path:
        return None
    targets = teacher_targets.load(Path(path))
    teacher_targets.check_matches(targets, Path(path), tokenizer, config.model, rows, config.teacher)
    return targets


def offline_trainer(config: Config, ctx: StageContext, model, tokenizer, rows: list[dict]) -> DistillTrainer:
    """This module's Trainer on the rows encoded as SFTTrainer would, with the cached teacher targets (kd, dpkd)
    and the pretraining rows (with theirs) when given."""
    from datasets import Dataset

    targets = load_targets(config.targets if config.method in NEEDS_TARGETS else None, tokenizer, config, rows)
    encoded = [encode(tokenizer, r["prompt"], r["completion"]) for r in rows]
    dataset = Dataset.from_list([{"input_ids": ids, "completion_mask": m, "row": i}
                                 for i, (ids, m) in enumerate(encoded)])
    pretrain = None
    if config.pretrain_data:
        pt_rows = training_rows(config.pretrain_data, config.pretrain_limit)
        pretrain = ([encode(tokenizer, r["prompt"], r["completion"]) for r in pt_rows],
                    load_targets(config.pretrain_targets, tokenizer, config, pt_rows))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return DistillTrainer(model=model, args=trainer_args(config, ctx.work_dir / "checkpoints", ctx.seed),
                          train_dataset=dataset,
                          data_collator=Collator(pad_id, config.max_length, targets, pretrain, ctx.seed),
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


def training_rows(path: str, limit: int | None) -> list[dict]:
    """prompt/completion rows of an SFT-format dataset (a conversation's last assistant turn is its completion)."""
    return [prompt_completion(r) for r in load_dataset(path, "sft", limit)]


def run(config: Config, ctx: StageContext) -> StageResult:
    configure_threads()
    rows = training_rows(config.data, config.limit)
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
