"""Offline teacher targets on disk: the teacher's top-k next-token log-probs at every completion position of a
set of prompt/completion rows, stored once and read by every student run (the teacher is not in memory then).

One safetensors file per row set: `logps` [N, k] float32 and `ids` [N, k] int32 for the N completion tokens
of all rows in order, and `offsets` [R + 1] (row r owns positions offsets[r]:offsets[r+1]). Its metadata says
what it was built from: the teacher's weights digest, the tokenizer's digest, k, and a digest of the rows, so a
student run refuses a cache made by another teacher, for another tokenizer or for other rows.

Tokens outside the cached top-k: word-level KD drops the teacher's mass there (not renormalised); DPKD needs
log p(y_s) of the student's argmax y_s and uses the smallest cached log-prob (an upper bound) when y_s is not
cached, counting those tokens (`dpkd/uncached`). With k = V (the world's 103 tokens) both are exact.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from align.data.rows import completion_text
from align.errors import AlignError
from align.loading.digests import tokenizer_digest


def rows_digest(rows: list[dict]) -> str:
    """Which rows a cache covers (completions as text, whether given as strings or as messages)."""
    text = json.dumps(
        [[r["prompt"], completion_text(r["completion"])] for r in rows], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TeacherTargets:
    logps: torch.Tensor  # [N, k]
    ids: torch.Tensor  # [N, k]
    offsets: torch.Tensor  # [R + 1]
    meta: dict
    path: str = ""

    def row(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.logps[start:end], self.ids[start:end]

    def __len__(self) -> int:
        return len(self.offsets) - 1


def save(path: Path, per_row: list, meta: dict) -> None:
    """`per_row`: `align.training.logprobs.RowLogprobs` with top-k filled in, one per row, in row order."""
    from safetensors.torch import save_file

    k = int(meta["top_k"])
    logps = [torch.tensor(r.topk_logprobs, dtype=torch.float32).reshape(-1, k) for r in per_row]
    ids = [torch.tensor(r.topk_ids, dtype=torch.int32).reshape(-1, k) for r in per_row]
    offsets = torch.tensor([0] + [len(x) for x in logps]).cumsum(0)
    save_file(
        {"logps": torch.cat(logps), "ids": torch.cat(ids), "offsets": offsets},
        str(path),
        metadata={key: str(value) for key, value in meta.items()},
    )


def load(path: Path) -> TeacherTargets:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {name: f.get_tensor(name) for name in ("logps", "ids", "offsets")}
            meta = f.metadata() or {}
    except Exception as exc:
        raise AlignError(f"{path}: not a teacher-targets file ({exc})") from None
    return TeacherTargets(tensors["logps"], tensors["ids"].long(), tensors["offsets"], meta, str(path))


def same_teacher(meta: dict, teacher: str) -> bool:
    """Whether the cache was built by `teacher`: by name or location first (cheap), else by its weights digest
    (a copied or moved model dir is still the same teacher)."""
    from align.loading.digests import weights_digest
    from align.loading.models import load_causal_lm, locate_model

    if meta.get("teacher") == teacher or meta.get("model_dir") == locate_model(teacher):
        return True
    return meta.get("teacher_weights") == weights_digest(load_causal_lm(teacher, dtype="float32", device="cpu"))


def check_matches(
    targets: TeacherTargets,
    path: Path,
    student_tokenizer,
    student_name: str,
    rows: list[dict],
    teacher: str | None = None,
) -> None:
    """The cache fits this student run: made by `teacher` (when named), with the student's tokenizer (token-level
    targets), for these rows."""
    if teacher and not same_teacher(targets.meta, teacher):
        raise AlignError(
            f"{path}: teacher targets were built by {targets.meta.get('teacher')!r} "
            f"({targets.meta.get('model_dir')}), not by this stage's teacher {teacher!r}"
        )
    if targets.meta.get("tokenizer") != tokenizer_digest(student_tokenizer):
        raise AlignError(
            f"{path}: teacher targets were built with the tokenizer of {targets.meta.get('teacher')!r}, "
            f"which differs from the student {student_name!r}'s: token-level distillation needs one "
            f"tokenizer (seqkd works across tokenizers)"
        )
    if targets.meta.get("rows") != rows_digest(rows) or len(targets) != len(rows):
        raise AlignError(
            f"{path}: teacher targets were built for other rows than this stage's data "
            f"({len(targets)} rows cached, {len(rows)} given)"
        )
