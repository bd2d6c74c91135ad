"""Every recipe at smoke size on a tiny model of a non-world family, with the user's own files (parquet and JSON
lines, chat and text) and the user's own judge, verifier and rater: what a user runs, end to end.

"Runs" means every stage ran on at least one row: on a random model an E-step verifies nothing and a grader keeps
nothing, so the verifier accepts every solution and the rater gives every row a 5 (`tests/fake_scorers.py`). The
resolved recipe holds no `world:` name: no world set or model slips into a user's run. Two families per recipe
take a minute, so the default suite runs xwin-pipeline, rest-em, dpkd and alpagasus on one family each and the
other 12 cases run under `-m bench` (`python -m pytest -m "bench or not bench" tests/conformance`).
"""

import json
from pathlib import Path

import pytest
import yaml

from align.api import run
from tests.conformance.user_data import write_user_files

JUDGE, VERIFIER = "tests.fake_scorers:length", "tests.fake_scorers:accept"


def overrides(recipe: str, model: str, f: dict[str, str]) -> list[str]:
    """The command line a user writes for each recipe (README, "Your own model and data")."""
    evals = [
        f"data.verifiable={f['problems_test']}",
        f"verifier={VERIFIER}",
        f"data.instruct={f['prompts_test']}",
        f"judge={JUDGE}",
        f"data.reference={f['references_test']}",
    ]
    distill = [
        f"model={model}",
        f"teacher={model}",
        f"data.train={f['references']}",
        f"data.eval={f['references_test']}",
        f"data.pretrain={f['corpus']}",
    ]
    return {
        "sft": [f"model={model}", f"data.sft={f['sft']}", *evals],
        "eval": [f"model={model}", *evals],
        "rest-em": [
            f"model={model}",
            f"data.train={f['problems']}",
            f"data.eval={f['problems_test']}",
            f"verifier={VERIFIER}",
        ],
        "alpagasus": [
            f"model={model}",
            f"data.train={f['sft']}",
            f"data.eval={f['prompts_test']}",
            "rater=null",
            "rater_scorer=tests.fake_scorers:rating",
            f"judge={JUDGE}",
            f"audit={JUDGE}",
        ],
        "dpkd": distill,
        "kd": distill,
        "miniplm": [
            f"teacher={model}",
            f"tokenizer={model}",
            f"base={model}",
            f"data.corpus={f['corpus']}",
            f"data.clean={f['references_test']}",
            *evals,
        ],
        "xwin-pipeline": [
            f"model={model}",
            f"data.sft={f['sft']}",
            f"data.prompts={f['prompts']}",
            f"data.eval={f['prompts_test']}",
            f"judge={JUDGE}",
        ],
    }[recipe]


def rows(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def run_on_user_model(recipe: str, model: str, tmp_path: Path) -> dict[str, dict]:
    files = write_user_files(tmp_path / "data")
    run_dir = tmp_path / "run"
    run(recipe, [*overrides(recipe, model, files), "tracking=none"], run_dir, smoke=True)
    resolved = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    assert "world:" not in json.dumps({k: v for k, v in resolved.items() if k != "description"})
    stages = {p.parent.name: json.loads(p.read_text()) for p in run_dir.glob("*/stage.json")}
    state = json.loads((run_dir / "run.json").read_text())
    assert set(stages) == set(state["stages"]) and stages
    for name, info in stages.items():
        assert not info.get("stopped"), name
        metrics = info["metrics"]
        if "train/examples" in metrics:
            assert metrics["train/examples"] > 0, name
        if "data" in info["outputs"] and info["outputs"]["data"].endswith(".jsonl"):
            assert rows(run_dir / name / info["outputs"]["data"]) > 0, name
        assert "eval/gold_score" not in metrics, name  # the user's judge is not the world's gold judge
        assert not info.get("values", {}).get("warnings"), name
    report = (run_dir / "report.md").read_text()
    assert "Measured on" in report or not any(k.startswith("eval/") for s in stages.values() for k in s["metrics"])
    return stages


RECIPES = ["sft", "eval", "rest-em", "alpagasus", "dpkd", "kd", "miniplm", "xwin-pipeline"]
FAMILIES = ["llama3_1", "qwen2_5"]
# The four chains on one family each in the default suite (alternating); every other case under -m bench.
IN_SUITE = {("xwin-pipeline", "llama3_1"), ("rest-em", "qwen2_5"), ("dpkd", "llama3_1"), ("alpagasus", "qwen2_5")}
CASES = [
    pytest.param(recipe, family, marks=[] if (recipe, family) in IN_SUITE else [pytest.mark.bench])
    for recipe in RECIPES
    for family in FAMILIES
]


@pytest.mark.parametrize("recipe, family", CASES)
def test_every_recipe_runs_on_a_users_model_and_files(recipe, family, family_dir, tmp_path):
    stages = run_on_user_model(recipe, str(family_dir(family)), tmp_path)
    if recipe == "xwin-pipeline":
        assert {"eval/judge_score", "eval/judge_score_sampled", "eval/rm_score"} <= set(stages["eval_dpo"]["metrics"])
        measured = stages["eval_dpo"]["values"]["measured_on"]["eval/judge_score"]
        assert "prompts_test.parquet (8 rows)" in measured and JUDGE in measured


def test_world_sets_on_a_users_model_are_named_and_warned_about(family_dir, tmp_path):
    """The recipes' defaults are the world's sets: on a user's model the run still finishes, but its summary table
    and report say which world set and judge measured each number, and warn that they test the world's skills."""
    from align.engine.report import summary_notes

    model = str(family_dir("qwen2_5"))
    result = run(
        "eval",
        [f"model={model}", "data.verifiable=null", "data.reference=null", "tracking=none"],
        tmp_path / "run",
        smoke=True,
    )
    shown, report = "\n".join(summary_notes(result.summaries)), result.report.read_text()
    for text in (shown, report):
        assert "eval/gold_score: world:instruct_test (8 rows), judge gold_judge, greedy" in text
        assert f"{model} is not a world model" in text and "world:instruct_test, the gold judge measured it" in text
    world = run("eval", ["data.verifiable=null", "data.reference=null", "tracking=none"], tmp_path / "w", smoke=True)
    assert "not a world model" not in world.report.read_text()
