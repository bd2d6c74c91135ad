import json

import pytest
import torch

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


def test_data_only_rebuild_keeps_models_and_refuses_changed_corpora(tmp_path, monkeypatch):
    from align.bench import world_build as build
    from align.bench import world_data
    from align.errors import AlignError

    root = tmp_path / "world"
    manifest = build.build_world(root, size="micro", seed=0)
    weights = (root / "base" / "model.safetensors").read_bytes()
    (root / "data" / "sft_crowd.jsonl").unlink()
    again = build.rebuild_data(root)
    assert (root / "data" / "sft_crowd.jsonl").exists() and again["models"] == manifest["models"]
    assert (root / "base" / "model.safetensors").read_bytes() == weights
    monkeypatch.setattr(world_data.instruct, "instruct_response_noisy", lambda c, rng: "changed")
    with pytest.raises(AlignError, match="base model's training corpus changed"):
        build.rebuild_data(root)
    assert (root / "data" / "sft_crowd.jsonl").exists() and not (root / "data.building").exists()


def test_retrain_changed_retrains_only_the_changed_model_as_a_full_build_would(tmp_path, monkeypatch):
    from align.bench import world_build as build
    from align.bench import world_data

    root = tmp_path / "world"
    build.build_world(root, size="micro", seed=0)
    teacher = (root / "teacher" / "model.safetensors").read_bytes()
    base = (root / "base" / "model.safetensors").read_bytes()
    noisy = world_data.tasks.arith_solution_noisy  # the same rng draws, another text: only the base's corpus changes
    monkeypatch.setattr(world_data.tasks, "arith_solution_noisy", lambda p, rng: noisy(p, rng) + " ")
    manifest = build.rebuild_data(root, retrain=True)
    assert (root / "teacher" / "model.safetensors").read_bytes() == teacher
    assert (root / "base" / "model.safetensors").read_bytes() != base
    assert manifest["models"]["base"]["corpus_sha256"] == build.corpus_digest(
        build.make_datasets(build.SIZES["micro"], 0)["_base_corpus"]
    )
    assert not any(p.name.endswith(".building") for p in root.iterdir())
    full = build.build_world(tmp_path / "full", size="micro", seed=0)
    assert (tmp_path / "full" / "base" / "model.safetensors").read_bytes() == (
        root / "base" / "model.safetensors"
    ).read_bytes()
    assert full["models"]["base"]["corpus_sha256"] == manifest["models"]["base"]["corpus_sha256"]


@pytest.mark.parametrize("name", ["base", "teacher"])
def test_shipped_models_load_and_generate(name):
    from align.generation.generators import HFGenerator, SamplingParams

    generator = HFGenerator(f"world:{name}")
    outs = generator.generate([tasks.user("Compute 37-8+9.")], SamplingParams(n=1, temperature=0, max_new_tokens=40))
    assert isinstance(outs[0][0], str) and outs[0][0]


def test_micro_world_build(tmp_path):
    from align.bench.world_build import build_world
    from align.data.jsonl import read_jsonl

    manifest = build_world(tmp_path / "world", size="micro", seed=0)
    root = tmp_path / "world"
    for name in ("base", "teacher", "tokenizer", "rater"):
        assert (root / name).is_dir()
    assert set(manifest["models"]["rater"]["agreement"]) >= {"held_out_triples", "parsed"}
    assert (root / "base" / "model.safetensors").exists()
    assert len(read_jsonl(root / "data" / "arith_test.jsonl")) == 10
    assert manifest["models"]["teacher"]["parameters"] > manifest["models"]["base"]["parameters"]
    # same seed -> same data
    again = build_world(tmp_path / "again", size="micro", seed=0)
    for f in (root / "data").glob("*.jsonl"):
        assert f.read_text() == (tmp_path / "again" / "data" / f.name).read_text()
    assert again["datasets"] == manifest["datasets"]
    from safetensors.torch import load_file

    for name in ("base", "teacher"):  # same seed -> same weights (CPU training is deterministic here)
        first, second = (load_file(str(d / name / "model.safetensors")) for d in (root, tmp_path / "again"))
        assert first.keys() == second.keys()
        assert all(torch.allclose(first[k].float(), second[k].float(), atol=1e-3) for k in first)


def test_the_shipped_rater_answers_the_rating_prompt_with_a_parseable_score():
    from align.data import filters
    from align.generation.generators import HFGenerator, SamplingParams

    chats = [
        filters.rating_messages("List 2 fruits, in upper case.", "", response)
        for response in ("APPLE, PEAR", "cat, dog, owl")
    ]
    replies = HFGenerator("world:rater").generate(chats, SamplingParams(n=1, temperature=0, max_new_tokens=8))
    scores = [filters.parse_rating(r[0]) for r in replies]
    assert all(s is not None for s in scores) and scores[0] > scores[1]  # a right answer beats a wrong one


def test_composition_knows_right_and_wrong_answers_of_each_family():
    from align.bench.composition import composition, family_and_right

    arith = {
        "prompt": tasks.user("Compute 3+4."),
        "completion": tasks.assistant(tasks.arith_solution_clean({"expr": "3+4"})),
    }
    wrong_arith = {"prompt": tasks.user("Compute 3+4."), "completion": tasks.assistant("\\boxed{8}")}
    listing = {"prompt": tasks.user("List 2 fruits, in upper case."), "completion": tasks.assistant("APPLE, PEAR")}
    wrong_listing = {"prompt": tasks.user("List 2 fruits, in upper case."), "completion": tasks.assistant("apple")}
    reverse = {"prompt": tasks.user("Reverse: cat dog owl"), "completion": tasks.assistant("owl dog cat")}
    wrong_reverse = {"prompt": tasks.user("Reverse: cat dog owl"), "completion": tasks.assistant("cat dog owl")}
    rows = [arith, wrong_arith, listing, wrong_listing, reverse, wrong_reverse]
    assert [family_and_right(r) for r in rows] == [
        ("arith", True),
        ("arith", False),
        ("instruct", True),
        ("instruct", False),
        ("reference", True),
        ("reference", False),
    ]
    shares = composition(rows)
    assert shares["right"] == 0.5 and shares["arith"] == pytest.approx(1 / 3) and shares["right_reference"] == 0.5


def test_arith_working_tells_a_lucky_right_answer_from_right_working():
    from align.bench.composition import arith_working

    right = tasks.arith_solution_clean({"expr": "30+2+1"})  # 30+2=32;32+1=33;\boxed{33}
    lucky = "30+1=31;31+2=33;\\boxed{33}"  # the right answer, reached by the wrong working
    rows = [
        {"prompt": tasks.user("Compute 30+2+1."), "completion": tasks.assistant(right), "score": 1.0},
        {"prompt": tasks.user("Compute 30+2+1."), "completion": lucky, "score": 1.0},
        {"prompt": tasks.user("Compute 30+2+1+5."), "completion": "\\boxed{30}", "score": 0.0},
        {"prompt": tasks.user("List 2 fruits."), "completion": "Apple, Pear"},
    ]  # not arithmetic: ignored
    found = arith_working(rows)
    assert found["2"] == {"rows": 2, "right_working": 0.5, "score": 1.0}
    assert found["3"] == {"rows": 1, "right_working": 0.0, "score": 0.0}
    assert found["all"]["rows"] == 3 and found["all"]["right_working"] == pytest.approx(1 / 3)
    assert "score" not in arith_working([{"prompt": tasks.user("Compute 3+4."), "completion": right}])["all"]


def test_instruct_failures_counts_each_broken_check_where_it_applies():
    from align.bench.composition import instruct_failures

    rows = [
        {"prompt": tasks.user("List 2 fruits, without plum."), "completion": "Apple, Plum"},  # breaks exclude
        {"prompt": tasks.user("List 2 fruits, without plum."), "completion": "Apple, Pear"},
        {"prompt": tasks.user("List 2 fruits, in upper case."), "completion": "APPLE"},  # breaks count
        {"prompt": tasks.user("Compute 3+4."), "completion": "7"},
    ]  # not an instruction: ignored
    failures = instruct_failures(rows)
    assert failures["exclude"] == 0.5 and failures["count"] == pytest.approx(1 / 3) and failures["case"] == 0.0
