"""Distillation losses as pure functions of log-probabilities and masks (no model, no trainer).

Conventions: `student_logps` is the student's log-softmax over the vocabulary, [B, T, V], already shifted so
position t predicts token t+1; the teacher is given as its cached top-k (`teacher_topk_logps`, `teacher_topk_ids`:
[B, T, k], sorted most likely first, as `align.training.logprobs.topk_logprobs` returns them); `mask` [B, T] is 1
on completion positions. Every loss is a mean over completion tokens. The sequence form of DPKD is TRL's DPO loss
with the teacher as reference (`recipes/dpkd.yaml`); on-policy reverse KL is TRL's DistillationTrainer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1)


def cross_entropy(student_logps: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """CE = -mean_t log q(y_t): the SFT loss on the completion tokens `targets` [B, T]."""
    return masked_mean(-student_logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1), mask)


def forward_kl(
    student_logps: torch.Tensor, teacher_topk_logps: torch.Tensor, teacher_topk_ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Word-level KD (MiniLLM's KD baseline, methods.md §4): per token -Σ_v p(v) log q(v), mean over tokens.

    This is the cross-entropy H(p, q) = KL(p || q) + H(p): the same gradient as forward KL. With cached top-k
    teacher targets, v ranges over the k cached tokens only: the teacher's mass outside them is dropped (not
    renormalised). With k = V it is exact."""
    p = teacher_topk_logps.exp()
    q = student_logps.gather(-1, teacher_topk_ids)
    return masked_mean(-(p * q).sum(-1), mask)


def teacher_logp_of(
    tokens: torch.Tensor, teacher_topk_logps: torch.Tensor, teacher_topk_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(token) from the teacher's cached top-k, and whether it was cached. A token outside the top-k gets
    the smallest cached log-prob, an upper bound on its true value (callers count how often that happens)."""
    match = teacher_topk_ids == tokens.unsqueeze(-1)
    found = match.any(-1)
    cached = teacher_topk_logps.masked_fill(~match, float("-inf")).max(-1).values
    return torch.where(found, cached, teacher_topk_logps[..., -1]), found


def dpkd_token(
    student_logps: torch.Tensor,
    teacher_topk_logps: torch.Tensor,
    teacher_topk_ids: torch.Tensor,
    mask: torch.Tensor,
    beta: float = 0.1,
    label_smoothing: float = 0.0,
    reference_free: bool = False,
) -> tuple[torch.Tensor, dict]:
    """DPKD as the authors' code computes it (`dpkd/main.py --seqKD-DPO`, methods.md §3), token-level form.

    At every completion position t under teacher forcing, the teacher's greedy token y_t = argmax p (chosen) is
    preferred over the student's greedy token y_s = argmax q (rejected), with the teacher as the reference:
        h_t = [log q(y_t) - log q(y_s)] - [log p(y_t) - log p(y_s)]
        l_t = -(1 - ε) log σ(β h_t) - ε log σ(-β h_t)          (ε = label_smoothing, 0 in the paper)
    and L_DPKD is the mean of l_t over completion tokens. Where both argmaxes agree, h_t = 0: a constant log 2
    with no gradient, still counted in the mean (the released code's length normalisation). `reference_free`
    drops the teacher's log-ratio (the paper's ablation). The student "output" is the token-level argmax,
    recomputed from the current weights at every step, as in the released code.

    Returns the loss and stats: `dpkd/agree` (fraction of tokens where y_s = y_t) and `dpkd/uncached` (tokens
    whose y_s was outside the teacher's cached top-k, so log p(y_s) used its upper bound)."""
    y_t = teacher_topk_ids[..., 0]
    y_s = student_logps.detach().argmax(-1)
    student_ratio = student_logps.gather(-1, y_t.unsqueeze(-1)).squeeze(-1) - student_logps.gather(
        -1, y_s.unsqueeze(-1)
    ).squeeze(-1)
    logp_s, found = teacher_logp_of(y_s, teacher_topk_logps, teacher_topk_ids)
    teacher_ratio = torch.zeros_like(student_ratio) if reference_free else teacher_topk_logps[..., 0] - logp_s
    h = student_ratio - teacher_ratio
    per_token = -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)
    on = mask.bool()
    stats = {
        "dpkd/agree": float((y_s == y_t)[on].float().mean()) if on.any() else 0.0,
        "dpkd/uncached": int((~found & on).sum()),
    }
    return masked_mean(per_token, mask), stats


def mix(ce: torch.Tensor, distill: torch.Tensor, ratio: float) -> torch.Tensor:
    """(1 - λ)·CE + λ·distill: the KD and DPKD mixtures (λ = `kd_ratio`, 0.5 in both papers' code)."""
    return (1 - ratio) * ce + ratio * distill
