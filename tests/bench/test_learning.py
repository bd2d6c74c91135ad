"""`align bench learning` at smoke size: every experiment runs and the report renders with its plots."""

import json
from pathlib import Path

import pytest

from align.bench.learning import bench_learning

pytestmark = pytest.mark.slow


@pytest.mark.bench  # the bench's own machinery: run with the bench (20 s), keeping the suite within 6 minutes
def test_bench_two_suites_run_render_and_rerender_alike(tmp_path):
    """The CI-sized check: two cheap suites at smoke size, their sections, and a render-only round trip."""
    out = bench_learning(
        ["rest-em", "alpagasus"], root=tmp_path / "runs", out=tmp_path / "learning.md", smoke=True, seeds=2
    )
    text = out.read_text()
    assert "## ReST-EM" in text and "## Instruction-data selection" in text and "AlpaGasus vs all data: **" in text
    assert "| iteration 2 |" in text and (tmp_path / "learning_rest_em.png").exists()
    assert "mean ± sd over 2 seeds" in text and "| rest-em | rest-em (verifier off) |" in text
    assert "| step | kept, right working |" in text  # the verifier's precision, from the run dirs
    results = json.loads((tmp_path / "learning.json").read_text())
    assert [r["label"] for r in results["alpagasus"]] == [f"alpagasus seed={s}" for s in (0, 1)]
    assert [r["command"] for r in results["rest-em"]] == [
        "align run rest-em seed=0 --smoke",
        "align run rest-em seed=1 --smoke",
        "align run rest-em selection=random seed=0 --smoke",
        "align run rest-em selection=random seed=1 --smoke",
    ]
    seeds = [json.loads((Path(r["run_dir"]) / "run.json").read_text())["seed"] for r in results["rest-em"]]
    assert seeds == [0, 1, 0, 1]  # each run got its seed, not just its label
    rerendered = bench_learning([], root=tmp_path / "runs", out=tmp_path / "learning.md", render_only=True)
    assert rerendered.read_text() == text


@pytest.mark.bench
def test_bench_learning_smoke(tmp_path):
    """Every suite at smoke size (about 2 minutes: run by hand with `-m bench`)."""
    suites = ["rest-em", "rest-em-hard", "xwin", "dpkd", "alpagasus", "miniplm"]
    out = bench_learning(suites, root=tmp_path / "runs", out=tmp_path / "learning.md", smoke=True)
    text = out.read_text()
    assert "## ReST-EM" in text and "## Xwin pipeline" in text and "## Distillation" in text
    assert (tmp_path / "learning_dpkd.png").exists() and "| DPKD, sequence form |" in text
    assert "| DPKD (0.5 CE + 0.5 DPKD, token level) | SeqKD |" in text and "### Peak memory" in text
    assert "## Pre-training data selection" in text and "| random half (control) |" in text
    assert "## Instruction-data selection" in text and "AlpaGasus vs all data: **" in text
    assert (tmp_path / "learning_rest_em.png").exists() and (tmp_path / "learning_xwin.png").exists()
    results = json.loads((tmp_path / "learning.json").read_text())
    assert [r["group"] for r in results["rest-em-hard"]] == (
        ["rest-em hard, 3 iterations"] * 3
        + ["rest-em hard, 1 iteration, 3x samples"] * 3
        + ["rest-em hard, 1 iteration, 3x samples, 4 epochs"] * 3
    )
    assert "| rest-em hard, 3 iterations | rest-em hard, 1 iteration, 3x samples, 4 epochs |" in text
    assert "| iteration 3 |" in text
    assert len(results["xwin"]) == 36 and "| xwin n=64 | DPO |" in text and "still breaks" in text
    assert "DPO beats RS beyond the spread, greedy and sampled, in any of the 11 runs whose RS" in text
    by_name = {r["label"]: r for r in results["xwin"]}  # the oracle's DPO lever reuses the oracle's RS stage
    assert (
        by_name["xwin n=64, oracle RM, DPO + SFT term lr 1e-4 seed=1"]["stages"]["eval_rs"]
        == by_name["xwin n=64, oracle RM (gold judge) seed=1"]["stages"]["eval_rs"]
    )
    assert [m["method"] for m in results["dpkd_memory"]] == ["seqkd", "kd", "dpkd", "onpolicy"]
    assert all(m["peak_rss_mb"] > 100 for m in results["dpkd_memory"])  # a real process with torch loaded
    assert "| iteration 2 |" in text and "yes |" in text  # M-steps started from the base weights
    rerendered = bench_learning([], root=tmp_path / "runs", out=tmp_path / "learning.md", render_only=True)
    assert rerendered.read_text() == text


@pytest.mark.bench
def test_bench_online_rl_smoke(tmp_path):
    """The online-RL suite at smoke size, two seeds: budgets counted from the run dirs, curves, sections, plot."""
    out = bench_learning(["online-rl"], root=tmp_path / "runs", out=tmp_path / "learning.md", smoke=True, seeds=2)
    text = out.read_text()
    results = json.loads((tmp_path / "learning.json").read_text())["online-rl"]
    by_label = {r["label"]: r for r in results}
    assert by_label["grpo seed=1"]["completions"] == 2 * 8  # smoke: 2 steps of 8 completions
    assert by_label["rest-em hard, 1 iteration seed=0"]["completions"] == 16 * 4  # 16 problems x 4 samples
    assert [s for s, _ in by_label["rloo seed=0"]["curves"]["train/reward"]] == [1, 2]  # smoke logs each step
    assert by_label["rloo seed=0"]["command"] == "align run grpo method=rloo seed=0 --smoke"
    boxed = by_label["rloo, boxed-only reward seed=1"]
    assert "boxed_only: true" in boxed["command"] and set(boxed["boxed"]) == {"eval_base", "eval"}
    assert "Per seed, greedy pass@1 / right_working" in text and "| RLOO, boxed-only reward | RLOO | pass@1 |" in text
    assert "| GRPO | ReST-EM, iteration 1 | pass@1 |" in text and "| round 1 → round 2 |" in text
    assert "| DPO → KTO |" in text and (tmp_path / "learning_online_rl.png").exists()
    iterative, xwin_kto = by_label["iterative-dpo, 2 rounds seed=1"], by_label["xwin-kto, on-policy DPO pairs seed=1"]
    assert iterative["stages"]["eval_rs"] == xwin_kto["stages"]["eval_rs"]  # the RS policy's stages are reused
    assert (
        bench_learning([], root=tmp_path / "runs", out=tmp_path / "learning.md", render_only=True).read_text() == text
    )
