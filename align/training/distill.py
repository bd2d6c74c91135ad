"""Distillation trainers: offline on cached teacher targets (the teacher never in memory), or on-policy with TRL.

`DistillTrainer` is transformers' `Trainer` with the method's loss from `align.training.losses`, so checkpoints,
resume, several processes, DeepSpeed and LoRA work as in every training stage. Rows are encoded as TRL's
SFTTrainer encodes them (`align.training.logprobs.encode`), so the cached targets line up with the completion
tokens. With a pretraining set, every step adds c·L_PT on a batch of its rows (DPKD's and MiniLLM's term).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import Trainer

from align.errors import AlignError
from align.training import losses, teacher_targets
from align.training.logprobs import collate, encode


@dataclass(frozen=True)
class DistillLoss:
    """What `DistillTrainer` minimises: `method` (sft / seqkd: CE; kd: (1-λ)CE + λ·KD; dpkd: (1-λ)CE + λ·DPKD),
    λ = `kd_ratio`, DPKD's `beta`, `label_smoothing` and `reference_free`, and c = `lm_coef` for L_PT."""

    method: str
    kd_ratio: float = 0.5
    beta: float = 0.1
    label_smoothing: float = 0.0
    reference_free: bool = False
    lm_coef: float = 0.5


class DistillTrainer(Trainer):
    """transformers' Trainer whose loss is the method's, computed by `align.training.losses` from the batch's cached
    teacher targets (never a teacher model)."""

    def __init__(self, *args, loss: DistillLoss, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss = loss
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
        mask, loss = inputs["mask"], self.loss
        if loss.method in ("sft", "seqkd"):
            total = ce
        elif loss.method == "kd":
            kd = losses.forward_kl(student, inputs["teacher_logps"], inputs["teacher_ids"], mask)
            total = losses.mix(ce, kd, loss.kd_ratio)
        else:
            dpkd, stats = losses.dpkd_token(
                student,
                inputs["teacher_logps"],
                inputs["teacher_ids"],
                mask,
                loss.beta,
                loss.label_smoothing,
                loss.reference_free,
            )
            total = losses.mix(ce, dpkd, loss.kd_ratio)
            self.record(stats)
        if "pt_input_ids" in inputs:  # c·L_PT on this step's pretraining batch
            _, pt_student, pt = self.forward(model, inputs, "pt_")
            if "pt_teacher_logps" in inputs:
                kd = losses.forward_kl(
                    pt_student, inputs["pt_teacher_logps"], inputs["pt_teacher_ids"], inputs["pt_mask"]
                )
                pt = losses.mix(pt, kd, loss.kd_ratio)
            total = total + loss.lm_coef * pt
            self.record({"pt/loss": pt.detach()})
        return (total, logits) if return_outputs else total


def place_targets(mask: torch.Tensor, rows: list[int], targets: teacher_targets.TeacherTargets):
    """[B, T, k] teacher log-probs and ids at each row's completion positions (`check_coverage` made sure the
    cache holds one for every position the student trains on)."""
    shape = (*mask.shape, targets.logps.shape[-1])
    logps, ids = torch.zeros(shape), torch.zeros(shape, dtype=torch.long)
    for i, row in enumerate(rows):
        row_logps, row_ids = targets.row(row)
        positions = mask[i].nonzero().squeeze(-1)
        logps[i, positions], ids[i, positions] = row_logps[: len(positions)], row_ids[: len(positions)]
    return logps, ids


def check_coverage(encoded: list, targets: teacher_targets.TeacherTargets, max_length: int) -> None:
    """The cache must hold the teacher's targets at every completion token the student trains on: a cache cut
    shorter (the teacher stage's smaller max_length) would leave those tokens without targets."""
    short = []
    for i, (_, mask) in enumerate(encoded):
        trained, cached = sum(mask[1:max_length]), int(targets.offsets[i + 1] - targets.offsets[i])
        if trained > cached:
            short.append((i, trained, cached))
    if short:
        row, trained, cached = short[0]
        missing = sum(t - c for _, t, c in short)
        raise AlignError(
            f"{targets.path}: the teacher targets miss {missing} completion tokens the student trains on, in "
            f"{len(short)} of {len(encoded)} rows (record {row + 1}: {cached} of {trained}): they were cut at the "
            f"teacher stage's max_length={targets.meta.get('max_length', '?')}, below the student's {max_length}; "
            f"raise the teacher's max_length (or lower the student's)"
        )


class Collator:
    """Pads encoded rows and places each row's cached teacher top-k at its completion positions; with a
    pretraining set, adds a batch of its rows (`pt_*`), drawn from the main batch's row ids so that a resumed
    run draws the same ones."""

    def __init__(
        self, pad_id: int, max_length: int, targets, pretrain: tuple[list, object] | None = None, seed: int = 0
    ):
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


def load_targets(path: str | None, tokenizer, student: str, rows: list[dict], teacher: str | None):
    """Cached teacher targets that fit these rows and this student's tokenizer (None when not given)."""
    if not path:
        return None
    targets = teacher_targets.load(Path(path))
    teacher_targets.check_matches(targets, Path(path), tokenizer, student, rows, teacher)
    return targets


def offline_trainer(
    model,
    tokenizer,
    rows: list[dict],
    args,
    loss: DistillLoss,
    targets=None,
    pretrain: tuple[list[dict], object] | None = None,
    max_length: int = 512,
    seed: int = 0,
    callbacks=(),
) -> DistillTrainer:
    """`DistillTrainer` on prompt/completion `rows` with their cached `targets` (kd, dpkd) and, for L_PT, the
    pretraining rows with theirs (`pretrain`: (rows, targets or None))."""
    from datasets import Dataset

    encoded = [encode(tokenizer, r["prompt"], r["completion"]) for r in rows]
    if targets is not None:
        check_coverage(encoded, targets, max_length)
    dataset = Dataset.from_list(
        [{"input_ids": ids, "completion_mask": m, "row": i} for i, (ids, m) in enumerate(encoded)]
    )
    if pretrain:
        pt_rows, pt_targets = pretrain
        pretrain = ([encode(tokenizer, r["prompt"], r["completion"]) for r in pt_rows], pt_targets)
        if pt_targets is not None:
            check_coverage(pretrain[0], pt_targets, max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return DistillTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=Collator(pad_id, max_length, targets, pretrain, seed),
        callbacks=list(callbacks),
        loss=loss,
    )


def onpolicy_trainer(model, teacher, tokenizer, rows: list[dict], args, callbacks=()):
    """TRL's DistillationTrainer on the rows' prompts (the student writes its own completions, the teacher scores
    them online)."""
    from datasets import Dataset
    from trl import DistillationTrainer

    return DistillationTrainer(
        model=model,
        teacher_model=teacher,
        args=args,
        train_dataset=Dataset.from_list([{"prompt": r["prompt"]} for r in rows]),
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
