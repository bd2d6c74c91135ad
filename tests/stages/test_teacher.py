"""The `teacher` stage: responses and exact top-k targets cached once for every student."""

import pytest
import torch

from align.data.jsonl import read_jsonl, write_jsonl
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.errors import AlignError
from align.loading.digests import weights_digest
from align.loading.models import load_causal_lm, load_tokenizer
from align.training.logprobs import completion_logprobs
from align.training.teacher_targets import check_matches, load
from align.world import resolve
from tests.conftest import write_recipe


def test_teacher_stage_caches_exact_topk_targets(tmp_path):
    rows = read_jsonl(resolve("world:reference_train"))[:6]
    write_jsonl(tmp_path / "refs.jsonl", rows)
    path = write_recipe(
        tmp_path,
        f"tracking: none\nstages:\n  teacher: {{stage: teacher, model: 'world:teacher', "
        f"data: {tmp_path}/refs.jsonl, targets_on: [responses, references], top_k: 103, "
        f"max_new_tokens: 16, batch_size: 4}}\n",
    )
    [summary] = Engine(load_recipe(str(path)), tmp_path / "run").run()
    stage = tmp_path / "run" / "teacher"
    responses = read_jsonl(stage / "responses.jsonl")
    assert len(responses) == 6 and all(isinstance(r["completion"], str) for r in responses)
    targets = load(stage / "references.targets.safetensors")
    tokenizer = load_tokenizer("world:teacher", padding_side="right")
    teacher = load_causal_lm("world:teacher", dtype="float32")
    refs = [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
    direct = completion_logprobs(teacher, tokenizer, refs, batch_size=2, top_k=103)
    assert len(targets) == 6 and targets.meta["teacher_weights"] == weights_digest(teacher)
    for i, expected in enumerate(direct):
        logps, ids = targets.row(i)
        assert logps.shape == (len(expected.token_logprobs), 103)
        assert torch.allclose(logps, torch.tensor(expected.topk_logprobs), atol=1e-5)
        assert torch.equal(ids, torch.tensor(expected.topk_ids))
    assert summary["metrics"]["teacher/references_tokens"] == int(targets.offsets[-1])
    # the cache fits a student with the same tokenizer and these rows, and nothing else
    check_matches(targets, stage, load_tokenizer("world:base"), "world:base", refs)
    other = load_tokenizer("world:base")
    other.add_tokens(["<|new|>"])
    with pytest.raises(AlignError, match="tokenizer of 'world:teacher', which differs from the student 'mine'"):
        check_matches(targets, stage, other, "mine", refs)
    with pytest.raises(AlignError, match="built for other rows"):
        check_matches(targets, stage, load_tokenizer("world:base"), "world:base", refs[:5])


def test_conversations_are_prompts_and_their_last_turn_the_reference(tmp_path):
    """The teacher reads `messages` rows too (DPKD's pretraining term on chat data): the last assistant turn is the
    reference its targets are cached on, and a distillation student on the same rows accepts them."""
    from align.data.jsonl import write_jsonl
    from align.engine.recipe import load_recipe
    from align.engine.runner import Engine
    from tests.conftest import write_recipe

    chats = [
        {"messages": [{"role": "user", "content": f"Say {w}."}, {"role": "assistant", "content": w}]}
        for w in ("alpha", "beta", "gamma", "delta")
    ]
    write_jsonl(tmp_path / "chats.jsonl", chats)
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  teacher: {{stage: teacher, model: world:teacher, data: {tmp_path}/chats.jsonl, targets_on: [references],
            respond: false, top_k: 8}}
  student: {{stage: distill, method: kd, model: world:base, teacher: world:teacher, data: {tmp_path}/chats.jsonl,
            targets: '${{teacher.references_targets}}', pretrain_data: {tmp_path}/chats.jsonl,
            pretrain_targets: '${{teacher.references_targets}}', max_steps: 1, batch_size: 2}}
""",
    )
    teacher, student = Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert teacher["metrics"]["teacher/references_tokens"] == sum(
        len(w) + 1 for w in ("alpha", "beta", "gamma", "delta")
    )  # + end of turn
    assert student["metrics"]["train/steps"] == 1


def test_text_rows_are_all_reference_for_the_pretraining_term(tmp_path):
    """A pretraining corpus is plain text: the teacher scores each row whole (empty prompt) and the student's
    pretraining term reads the same rows the same way; asked to respond to text rows, it refuses before the run."""
    texts = [{"text": f"{a} + {a} = {2 * a}"} for a in range(1, 9)]
    write_jsonl(tmp_path / "corpus.jsonl", texts)
    write_jsonl(tmp_path / "train.jsonl", [{"prompt": "1 + 1 =", "completion": " 2"}] * 4)
    stages = f"""tracking: none
stages:
  teacher: {{stage: teacher, model: world:teacher, data: {tmp_path}/corpus.jsonl, targets_on: [references],
            respond: false, top_k: 8}}
  student: {{stage: distill, method: sft, model: world:base, data: {tmp_path}/train.jsonl,
            pretrain_data: {tmp_path}/corpus.jsonl, teacher: world:teacher,
            pretrain_targets: '${{teacher.references_targets}}', max_steps: 1, batch_size: 2}}
"""
    teacher, student = Engine(load_recipe(str(write_recipe(tmp_path, stages))), tmp_path / "run").run()
    tokenizer = load_tokenizer("world:teacher")
    assert teacher["metrics"]["teacher/references_tokens"] == sum(  # the world adds no BOS: no position predicts
        len(tokenizer(t["text"] + tokenizer.eos_token)["input_ids"]) - 1
        for t in texts  # a row's first token
    )
    assert student["metrics"]["train/steps"] == 1
    responding = stages.replace("respond: false", "respond: true")
    with pytest.raises(AlignError, match=r"corpus.jsonl: record 1 is a `text` row, with no prompt to respond to"):
        Engine(load_recipe(str(write_recipe(tmp_path, responding, "r.yaml"))), tmp_path / "r").run()
    assert not (tmp_path / "r").exists()
