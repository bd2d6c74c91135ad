"""Distillation losses and log-probs against values computed by hand (math.log, not torch)."""

import math

import pytest
import torch

from align.training import losses
from align.training.logprobs import collate, encode, token_logprobs, topk_logprobs


def logs(*probs):
    return torch.tensor([math.log(p) for p in probs])


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


Q = [0.2, 0.5, 0.3]  # student at position 0
P = [0.6, 0.3, 0.1]  # teacher at position 0
Q1, P1 = [0.7, 0.2, 0.1], [0.5, 0.3, 0.2]  # position 1: both argmaxes are token 0


def student():
    return torch.stack([logs(*Q), logs(*Q1), logs(1 / 3, 1 / 3, 1 / 3)]).unsqueeze(0)  # [1, 3, 3]


def teacher_full():
    return torch.stack([logs(*P), logs(*P1), logs(0.1, 0.1, 0.8)]).unsqueeze(0)


MASK = torch.tensor([[1, 1, 0]])  # the third position is padding and must not count


def test_cross_entropy_and_forward_kl_by_hand():
    targets = torch.tensor([[1, 0, 2]])
    assert float(losses.cross_entropy(student(), targets, MASK)) == pytest.approx(-(math.log(0.5) + math.log(0.7)) / 2)
    values, ids = teacher_full().topk(3, dim=-1)
    expected = (-sum(p * math.log(q) for p, q in zip(P, Q)) - sum(p * math.log(q) for p, q in zip(P1, Q1))) / 2
    assert float(losses.forward_kl(student(), values, ids, MASK)) == pytest.approx(expected)
    values, ids = teacher_full().topk(1, dim=-1)  # top-1 keeps only the teacher's argmax (mass dropped)
    assert float(losses.forward_kl(student(), values, ids, MASK)) == pytest.approx(
        (-0.6 * math.log(0.2) - 0.5 * math.log(0.7)) / 2
    )


def test_dpkd_token_by_hand():
    values, ids = teacher_full().topk(3, dim=-1)
    loss, stats = losses.dpkd_token(student(), values, ids, MASK, beta=0.1)
    # position 0: teacher argmax 0 (chosen), student argmax 1 (rejected)
    h0 = (math.log(0.2) - math.log(0.5)) - (math.log(0.6) - math.log(0.3))
    # position 1: both choose token 0: h = 0, the constant log 2, still counted
    assert float(loss) == pytest.approx((-math.log(sigmoid(0.1 * h0)) + math.log(2)) / 2)
    assert stats == {"dpkd/agree": 0.5, "dpkd/uncached": 0}
    smoothed, _ = losses.dpkd_token(student(), values, ids, MASK, beta=0.1, label_smoothing=0.2)
    assert float(smoothed) == pytest.approx(
        (-0.8 * math.log(sigmoid(0.1 * h0)) - 0.2 * math.log(sigmoid(-0.1 * h0)) + math.log(2)) / 2
    )
    free, _ = losses.dpkd_token(student(), values, ids, MASK, beta=0.1, reference_free=True)
    assert float(free) == pytest.approx((-math.log(sigmoid(0.1 * (math.log(0.2) - math.log(0.5)))) + math.log(2)) / 2)


def test_dpkd_gradient_raises_the_teacher_token_and_lowers_the_students():
    logits = torch.log(torch.tensor([[Q, Q1, [1 / 3] * 3]])).requires_grad_()
    values, ids = teacher_full().topk(3, dim=-1)
    loss, _ = losses.dpkd_token(torch.log_softmax(logits, -1), values, ids, MASK, beta=0.1)
    loss.backward()
    assert logits.grad[0, 0, 0] < 0 < logits.grad[0, 0, 1]  # descent raises token 0, lowers token 1
    assert torch.all(logits.grad[0, 1:] == 0)  # agreeing and masked positions carry no gradient


def test_uncached_student_token_uses_the_upper_bound_and_is_counted():
    values, ids = teacher_full().topk(1, dim=-1)  # only the teacher's argmax is cached
    loss, stats = losses.dpkd_token(student(), values, ids, MASK, beta=0.1)
    h0 = (math.log(0.2) - math.log(0.5)) - (math.log(0.6) - math.log(0.6))  # log p(y_s) -> smallest cached
    assert float(loss) == pytest.approx((-math.log(sigmoid(0.1 * h0)) + math.log(2)) / 2)
    assert stats["dpkd/uncached"] == 1


def test_offline_topk_covering_the_vocabulary_equals_online():
    """Teacher targets cached as top-k with k = V give exactly the loss computed from the teacher's logits."""
    torch.manual_seed(0)
    student_logps = torch.log_softmax(torch.randn(2, 5, 103), -1)
    teacher_logits = torch.randn(2, 6, 103)
    mask = torch.tensor([[0, 1, 1, 1, 1], [0, 0, 1, 1, 0]])
    values, ids = topk_logprobs(teacher_logits, k=103)  # offline: what the teacher stage caches
    online = torch.log_softmax(teacher_logits[:, :-1], -1)  # online: the teacher in memory
    y_t = online.argmax(-1)
    y_s = student_logps.argmax(-1)
    pick = lambda lp, y: lp.gather(-1, y.unsqueeze(-1)).squeeze(-1)  # noqa: E731
    h = (pick(student_logps, y_t) - pick(student_logps, y_s)) - (pick(online, y_t) - pick(online, y_s))
    expected = losses.masked_mean(-torch.nn.functional.logsigmoid(0.1 * h), mask)
    offline, stats = losses.dpkd_token(student_logps, values, ids, mask, beta=0.1)
    assert float(offline) == pytest.approx(float(expected), abs=1e-6) and stats["dpkd/uncached"] == 0
    full_kd = losses.masked_mean(-(online.exp() * student_logps).sum(-1), mask)
    assert float(losses.forward_kl(student_logps, values, ids, mask)) == pytest.approx(float(full_kd), abs=1e-6)


def test_mix_by_hand():
    assert float(losses.mix(torch.tensor(2.0), torch.tensor(4.0), 0.25)) == pytest.approx(2.5)


def test_token_logprobs_shift_by_hand():
    logits = torch.log(torch.tensor([[[0.5, 0.5], [0.9, 0.1], [0.3, 0.7]]]))  # [1, 3 positions, 2 tokens]
    ids = torch.tensor([[0, 1, 1]])
    per_token = token_logprobs(logits, ids)  # position t scores token t+1
    assert per_token.tolist()[0] == pytest.approx([math.log(0.5), math.log(0.1)])
    values, indices = topk_logprobs(logits, 1)
    assert indices[0, :, 0].tolist() == [0, 0] and values[0, 1, 0] == pytest.approx(math.log(0.9))


def test_encode_marks_exactly_the_completion_like_trl():
    from align.loading.models import load_tokenizer
    from align.world import tasks

    tokenizer = load_tokenizer("world:base")
    ids, mask = encode(tokenizer, tasks.user("List 2 fruits."), "fig, kiwi")
    completion = [i for i, m in zip(ids, mask) if m]
    assert tokenizer.decode(completion) == "fig, kiwi<|end|>"
    ids, mask = encode(tokenizer, "Compute 1+1. ", "2")
    assert tokenizer.decode([i for i, m in zip(ids, mask) if m]) == "2<|end|>"  # plain text gets EOS, as in TRL
    batch = collate([encode(tokenizer, "ab", "c"), encode(tokenizer, "abcd", "ef")], tokenizer.pad_token_id)
    assert batch.mask.tolist() == [[0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]


@pytest.mark.slow
def test_completion_logprobs_match_the_models_own_loss():
    from align.loading.models import load_causal_lm, load_tokenizer
    from align.training.logprobs import completion_logprobs
    from align.world import tasks

    tokenizer, model = load_tokenizer("world:base", padding_side="right"), load_causal_lm("world:base")
    rows = [
        {"prompt": tasks.user("List 2 fruits."), "completion": "fig, kiwi"},
        {"prompt": "Compute 1+1. ", "completion": "2"},
    ]
    got = completion_logprobs(model, tokenizer, rows, batch_size=2, top_k=3)
    for row, result in zip(rows, got):
        ids, mask = encode(tokenizer, row["prompt"], row["completion"])
        labels = torch.tensor([[i if m else -100 for i, m in zip(ids, mask)]])
        with torch.no_grad():
            nll = model(input_ids=torch.tensor([ids]), labels=labels).loss  # HF's own mean NLL
        assert -sum(result.token_logprobs) / len(result.token_logprobs) == pytest.approx(float(nll), abs=1e-5)
        assert len(result.topk_ids) == sum(mask) and all(len(k) == 3 for k in result.topk_ids)
        assert all(t[0] >= lp - 1e-6 for t, lp in zip(result.topk_logprobs, result.token_logprobs))
