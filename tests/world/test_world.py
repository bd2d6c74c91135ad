"""The embedded world: tokenizer and chat template, task families, shipped splits and models."""

import json

import pytest

from align.world import instruct, resolve, splits, tasks
from align.world.tokenizer import build_tokenizer


def test_tokenizer_round_trip_and_chat_template(tmp_path):
    from transformers import AutoTokenizer

    build_tokenizer().save_pretrained(str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    text = "Compute 37-8+9. 37-8=29;29+9=38;\\boxed{38} List 3 fruits, in UPPER case!"
    ids = tok(text, add_special_tokens=False).input_ids
    assert len(ids) == len(text) and tok.decode(ids) == text
    messages = [{"role": "user", "content": "Compute 1+2."}, {"role": "assistant", "content": "1+2=3;\\boxed{3}"}]
    rendered = tok.apply_chat_template(messages, tokenize=False)
    assert rendered == "<|bos|><|user|>Compute 1+2.<|end|><|assistant|>1+2=3;\\boxed{3}<|end|>"
    prompt = tok.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|assistant|>")
    out = tok.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    masked = [i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m]
    assert tok.decode(masked) == "1+2=3;\\boxed{3}<|end|>"  # assistant-only loss sees the answer + EOS
    assert tok.eos_token == "<|end|>" and tok.pad_token == "<|pad|>"


@pytest.mark.parametrize("family", ["arith", "arith_hard", "instruct", "reference"])
def test_generation_is_deterministic_and_splits_are_disjoint(family):
    train_a, test_a = splits.generate_split(family, 5, 150, 40)
    train_b, test_b = splits.generate_split(family, 5, 150, 40)
    assert train_a == train_b and test_a == test_b
    assert splits.generate_split(family, 6, 150, 40)[0] != train_a

    def prompts(rows):
        return {r["prompt"][0]["content"] for r in rows}

    assert not prompts(train_a) & prompts(test_a)
    assert len(prompts(train_a)) == 150 and len(prompts(test_a)) == 40


def test_shipped_splits_are_disjoint():
    from align.data.jsonl import read_jsonl

    for family, train_names in [
        ("arith", ["arith_train"]),
        ("arith_hard", ["arith_hard_train"]),
        ("instruct", ["instruct_train", "sft", "sft_crowd"]),
        ("reference", ["reference_train"]),
    ]:
        held_out = {json.dumps(r["prompt"]) for r in read_jsonl(resolve(f"world:{family}_test"))}
        for name in train_names:
            rows = read_jsonl(resolve(f"world:{name}"))
            train = {json.dumps(r["prompt"] if "prompt" in r else r["messages"][:1]) for r in rows}
            assert not held_out & train, name


def test_hard_arith_is_the_base_kind_of_chain_past_100_and_never_in_its_pretraining():
    """The hard split differs from the base's problems only by passing 100, and the base never saw a held-out one."""
    from align.bench.world_check import expression
    from align.data.jsonl import read_jsonl

    train, test = splits.generate_split("arith_hard", 0, 300, 60)
    for problem in train + test:
        steps = tasks.arith_steps(problem["expr"])
        assert 2 <= len(steps) <= 4 and 10 <= steps[0][0] <= 99 and all(1 <= b <= 9 for _, _, b, _ in steps)
        assert max(result for *_, result in steps) >= 100 and problem["answer"] == str(steps[-1][3])
    corpus = {json.dumps(r["prompt"]) for r in read_jsonl(resolve("world:corpus"))}
    shipped = read_jsonl(resolve("world:arith_hard_test"))
    assert len(shipped) == 200 and not corpus & {json.dumps(r["prompt"]) for r in shipped}
    assert all(max(s[3] for s in tasks.arith_steps(expression(r["prompt"]))) >= 100 for r in shipped)


def test_arith_working_and_modes():
    problem = {"expr": "37-8+9"}
    assert tasks.arith_solution_clean(problem) == "37-8=29;29+9=38;\\boxed{38}"
    assert tasks.arith_fully_correct("37-8+9", "37-8=29;29+9=38;\\boxed{38}")
    assert not tasks.arith_fully_correct("37-8+9", "37-8=28;28+9=38;\\boxed{38}")
    import random

    rng = random.Random(0)
    outs = {tasks.arith_solution_noisy({"expr": "37-8+9"}, rng) for _ in range(200)}
    assert outs == {"37-8=29;29+9=38;\\boxed{38}", "37-8=29;\\boxed{29}", "\\boxed{37}"}


def test_instruct_response_violations_are_caught_by_the_judge():
    import random

    from align.world.gold_judge import constraint_checks

    rng = random.Random(1)
    c = {"count": 3, "category": "tools", "case": "lower", "sorted": True, "exclude": "saw"}
    assert all(constraint_checks(c, instruct.instruct_response(c, rng)).values())
    for violation in ["count", "case", "sorted", "exclude", "category"]:
        checks = constraint_checks(c, instruct.instruct_response(c, rng, {violation}))
        assert not checks[violation], violation


def test_crowd_demos_break_each_constraint_in_one_clear_mode():
    import random
    from collections import Counter

    from align.world.gold_judge import constraint_checks

    c = {"count": 3, "category": "tools", "case": "lower", "sorted": True, "exclude": "axe"}
    assert instruct.HABITS["tools"] == "count"
    rng = random.Random(0)
    outs = Counter(instruct.instruct_response_mixed(c, rng) for _ in range(2000))
    # the habit (one item too many) beats the right answer, and both are the canonical words sorted
    assert [text for text, _ in outs.most_common(2)] == ["drill, file, rake, saw", "drill, file, saw"]
    broken = Counter()
    for text, k in outs.items():
        broken.update({name: k for name, ok in constraint_checks(c, text).items() if not ok})
    assert 0.6 < broken["count"] / 2000 < 0.7
    for name in ("case", "sorted", "exclude"):
        assert 0.05 < broken[name] / 2000 < 0.15, name
    assert broken["category"] == broken["distinct"] == 0


@pytest.mark.parametrize("name", ["base", "teacher"])
def test_the_shipped_models_answer_as_their_training_data_says(name):
    """The teacher (clean data) works every chain right; the base's greedy answer is its data's most likely mode
    for that problem: the right working when the first number ends in 0-2, stopping a step early otherwise."""
    from align.generation.generators import HFGenerator, SamplingParams

    exprs = ["37-8+9", "20+3+4", "51-2+7-3"]
    outs = HFGenerator(f"world:{name}").generate(
        [tasks.user(tasks.arith_prompt(e)) for e in exprs], SamplingParams(n=1, temperature=0, max_new_tokens=40)
    )
    for expr, (out,) in zip(exprs, outs):
        steps = tasks.arith_steps(expr)
        written = {
            "correct": tasks.arith_solution_clean({"expr": expr}),
            "stop_early": f"{tasks.format_working(steps[:-1])};\\boxed{{{steps[-2][3]}}}",
        }
        weights = tasks.arith_mode_weights(expr)
        expected = "correct" if name == "teacher" else max(weights, key=weights.get)
        assert out == written[expected], (expr, out)
