"""The Xwin pipeline at smoke size, in-process: every stage runs and hands the next what it needs."""

import json

import pytest
from transformers import AutoModelForCausalLM

from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.loading.digests import weights_digest

pytestmark = pytest.mark.slow


def test_xwin_pipeline_smoke(tmp_path):
    Engine(load_recipe("xwin-pipeline", ["tracking=none"], smoke=True), tmp_path / "run").run()

    def folder(name):
        return tmp_path / "run" / name

    def rows(name):
        return [json.loads(line) for line in (folder(name) / "data.jsonl").read_text().splitlines()]

    stages = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "run").glob("*/stage.json")}
    assert len(stages) == 17
    # rm/pair_accuracy (the trainer's own held-out evaluation) agrees with the RM scorer on the held-out pairs
    from align.engine.fingerprint import stage_seed
    from align.stages.reward import split
    from rewards import make_scorer

    _, held_out = split(rows("pairs_rm"), 0.1, stage_seed(0, "reward"))
    scorer = make_scorer({"name": "reward_model", "model": str(folder("reward") / "model")})
    text = lambda c: c[0]["content"]  # noqa: E731
    chosen = scorer([p["prompt"] for p in held_out], [text(p["chosen"]) for p in held_out])
    rejected = scorer([p["prompt"] for p in held_out], [text(p["rejected"]) for p in held_out])
    expected = sum(c > r for c, r in zip(chosen, rejected)) / len(held_out)
    assert stages["reward"]["metrics"]["rm/held_out_pairs"] == len(held_out) <= 32  # one eval batch: exact
    assert stages["reward"]["metrics"]["rm/pair_accuracy"] == pytest.approx(expected)
    pairs = rows("dpo_pairs")
    assert pairs and all(p["chosen_score"] > p["rejected_score"] for p in pairs)
    policy = {(json.dumps(r["prompt"]), r["completion"]) for r in rows("policy_score")}
    for p in pairs:  # chosen from the Xwin-Set, rejected from the RS policy's own samples
        assert (json.dumps(p["prompt"]), p["rejected"][0]["content"]) in policy
        assert any(
            p["chosen"][0]["content"] == r["completion"]
            for r in rows("xwin_score")
            if json.dumps(r["prompt"]) == json.dumps(p["prompt"])
        )
    assert len(rows("rs_data")) == 16  # one best response per prompt
    for name in ("eval_rs", "eval_dpo"):
        assert {"eval/gold_score", "eval/gold_score_sampled", "eval/win_rate", "eval/rm_score"} <= set(
            stages[name]["metrics"]
        )
    rs_model = AutoModelForCausalLM.from_pretrained(str(folder("rs") / "model"))
    assert stages["dpo"]["values"]["start_weights"] == weights_digest(rs_model.float())  # DPO after RS
    xwin_set = rows("xwin_set")
    by_prompt = {}
    for row in xwin_set:
        by_prompt.setdefault(json.dumps(row["prompt"]), []).append(row["completion"])
    assert all(len(c) == len(set(c)) for c in by_prompt.values())  # unique responses


def test_inserting_an_evaluate_stage_mid_pipeline_reruns_only_it(tmp_path):
    import yaml

    from align.engine.recipe_files import find_recipe

    Engine(load_recipe("xwin-pipeline", ["tracking=none"], smoke=True), tmp_path / "run").run()
    done = {p.parent.name: p.read_text() for p in (tmp_path / "run").glob("*/DONE")}
    doc = yaml.safe_load(find_recipe("xwin-pipeline").read_text())
    stages = list(doc["stages"].items())
    at = [name for name, _ in stages].index("reward") + 1
    probe = {
        "stage": "evaluate",
        "model": "${sft.model}",
        "instruct": "${data.eval}",
        "verifiable": None,
        "reference": None,
        "scorers": {"rm_score": {"name": "reward_model", "model": "${reward.model}"}},
    }
    doc["stages"] = dict(stages[:at] + [("eval_rm_on_sft", probe)] + stages[at:])
    doc["smoke"]["stages.eval_rm_on_sft.limit"] = 8
    (tmp_path / "inserted.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    summaries = Engine(
        load_recipe(str(tmp_path / "inserted.yaml"), ["tracking=none"], smoke=True), tmp_path / "run"
    ).run()
    assert [s["name"] for s in summaries if s["status"] == "ran"] == ["eval_rm_on_sft"]
    assert {name: (tmp_path / "run" / name / "DONE").read_text() for name in done} == done


@pytest.mark.bench  # a 15 s recipe smoke; the suite keeps to 6 minutes
def test_iterative_dpo_samples_from_and_continues_each_rounds_policy(tmp_path):
    """iterative-dpo: round 1 starts from the RS model, round 2 samples from and trains round 1's DPO model."""
    Engine(load_recipe("iterative-dpo", ["tracking=none"], smoke=True), tmp_path / "run").run()

    def info(name):
        return json.loads((tmp_path / "run" / name / "stage.json").read_text())

    def digest(name):
        return weights_digest(AutoModelForCausalLM.from_pretrained(str(tmp_path / "run" / name / "model")))

    assert info("it1-dpo")["values"]["start_weights"] == digest("rs")
    assert info("it2-dpo")["values"]["start_weights"] == digest("it1-dpo") != digest("rs")
    first = json.loads((tmp_path / "run" / "it2-sample" / "data.jsonl").read_text().splitlines()[0])
    assert first["policy"].endswith("it1-dpo/model")
    assert "eval/rm_score" in info("it2-eval")["metrics"]
