"""ReST-EM at smoke size: two iterations, every M-step starts from the base weights."""

import json

import pytest
from transformers import AutoModelForCausalLM

from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.loading.digests import weights_digest
from align.world import resolve

pytestmark = pytest.mark.slow


def stage(run_dir, name):
    return json.loads((run_dir / name / "stage.json").read_text())


def test_two_iterations_each_m_step_starts_from_base(tmp_path):
    recipe = load_recipe("rest-em", ["tracking=none"], smoke=True)
    Engine(recipe, tmp_path / "run").run()
    run_dir = tmp_path / "run"
    base_digest = weights_digest(AutoModelForCausalLM.from_pretrained(str(resolve("world:base"))).float())
    it1, it2 = stage(run_dir, "it1-sft"), stage(run_dir, "it2-sft")
    assert it1["values"]["start_weights"] == base_digest
    assert it2["values"]["start_weights"] == base_digest  # not the it1 model
    it1_model = AutoModelForCausalLM.from_pretrained(str(run_dir / "it1-sft" / "model")).float()
    assert weights_digest(it1_model) != base_digest
    # the second E-step sampled from the first iteration's model
    assert stage(run_dir, "it2-sample")["config"]["model"] == str(run_dir / "it1-sft" / "model")
    assert stage(run_dir, "it1-sample")["config"]["model"] == "world:base"
    kept = stage(run_dir, "it1-select")["metrics"]
    scored = [json.loads(line) for line in (run_dir / "it1-score" / "data.jsonl").read_text().splitlines()]
    correct: dict[str, list] = {}
    for row in scored:
        if row["score"] >= 0.5:
            correct.setdefault(json.dumps(row["prompt"]), []).append(row["completion"])
    assert kept["select/prompts_kept"] == len(correct) > 0
    assert kept["select/kept"] == sum(min(10, len(c)) for c in correct.values())  # repeats count, cap 10
    assert kept["select/kept"] > sum(min(10, len(set(c))) for c in correct.values())  # this smoke run has repeats
    passes = [stage(run_dir, name)["metrics"]["eval/pass@1"] for name in ("eval_base", "it1-eval", "it2-eval")]
    best = stage(run_dir, "best")
    assert best["metrics"]["best/index"] == passes.index(max(passes))  # the earliest best
    assert best["values"]["model"] == best["config"]["models"][passes.index(max(passes))]


def test_verifier_off_control_keeps_the_same_counts(tmp_path):
    on = Engine(load_recipe("rest-em", ["tracking=none", "iterations=1"], smoke=True), tmp_path / "on").run()
    off = Engine(
        load_recipe("rest-em", ["tracking=none", "iterations=1", "selection=random"], smoke=True), tmp_path / "off"
    ).run()

    def kept(summaries):
        return next(s for s in summaries if s["name"] == "it1-select")["metrics"]["select/kept"]

    assert kept(on) == kept(off)


def test_rest_em_on_user_files_with_another_verifier(tmp_path):
    from align.data.jsonl import read_jsonl, write_jsonl

    rows = read_jsonl(resolve("world:arith_train"))[:12]
    train, held_out = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    write_jsonl(train, [{"prompt": r["prompt"], "answer": r"\d+[-+=;\d]*\\boxed\{\d+\}"} for r in rows[:8]])
    write_jsonl(held_out, [{"prompt": r["prompt"], "answer": r".*"} for r in rows[8:]])
    recipe = load_recipe(
        "rest-em",
        [
            "tracking=none",
            "iterations=1",
            f"data.train={train}",
            f"data.eval={held_out}",
            "verifier=regex",
            "model=world:base",
        ],
        smoke=True,
    )
    summaries = Engine(recipe, tmp_path / "run").run()
    metrics = {s["name"]: s["metrics"] for s in summaries}
    assert metrics["it1-eval"]["eval/pass@1"] == 1.0  # `.*` accepts anything
    assert metrics["it1-select"]["select/prompts"] == 8


def test_an_e_step_that_verifies_nothing_stops_the_loop_and_keeps_the_best(tmp_path):
    from align.engine.report import run_overview, write_report

    recipe = load_recipe("rest-em", ["tracking=none", "verifier=tests.fake_scorers:zero"], smoke=True)
    summaries = Engine(recipe, tmp_path / "run").run()
    status = {s["name"]: s["status"] for s in summaries}
    assert status["it1-select"] == "stopped" and status["it1-sft"] == status["it2-sample"] == "stopped"
    assert status["best"] == "ran" and status["it1-sample"] == "ran"
    best = stage(tmp_path / "run", "best")
    assert best["config"]["models"] == ["world:base"] and best["values"]["model"] == "world:base"
    overview = run_overview(tmp_path / "run")
    assert overview["status"] == "done"
    assert "kept nothing from 64 samples" in write_report(tmp_path / "run").read_text()
    again = Engine(
        load_recipe("rest-em", ["tracking=none", "verifier=tests.fake_scorers:zero"], smoke=True), tmp_path / "run"
    ).run()  # a re-run stops at the same place and redoes nothing
    assert [s["status"] for s in again if s["status"] == "ran"] == []
