"""`align bench perf`: the token count behind tokens/s, the report's target marks, and (bench-marked) the whole
command at smoke size."""

import pytest
import torch

from align.bench.perf import generated_tokens
from align.bench.perf_report import render_perf


def test_generated_tokens_count_up_to_each_rows_eos():
    new = torch.tensor([[5, 2, 0, 0], [5, 5, 5, 5], [2, 0, 0, 0]])
    assert generated_tokens(new, eos=2) == 2 + 4 + 1


def results(speedup=3.2, sft=0.97, dpo_memory=1.1, overhead=0.02):
    return {
        "command": "align bench perf --full",
        "cores": 2,
        "threads": 2,
        "torch": "2.13.0",
        "matmul_gflops": 60.0,
        "sampling": {
            "prompts": 700,
            "n": 8,
            "temperature": 0.7,
            "max_new_tokens": 64,
            "raw_per_call_prompts": 32,
            "raw_s": 10.0,
            "align_s": 10.0 / speedup,
            "raw_tokens_per_s": 5000,
            "align_tokens_per_s": int(5000 * speedup),
            "speedup": speedup,
            "identical_samples": 5600,
            "samples": 5600,
            "mean_completion_tokens": 17.6,
            "flops_per_token": 1_800_000,
            "mean_context": 56.0,
        },
        "training": [
            {
                "stage": "sft",
                "steps": 40,
                "batch_size": 16,
                "raw_samples_per_s": 100.0,
                "align_samples_per_s": 100.0 * sft,
                "ratio": sft,
            }
        ],
        "memory": [
            {"stage": "sft", "steps": 40, "peak_rss_mb": 600.0, "ratio": 1.0},
            {"stage": "dpo", "steps": 40, "peak_rss_mb": 600.0 * dpo_memory, "ratio": dpo_memory},
        ],
        "overhead": [
            {
                "command": "align run xwin-pipeline --fresh",
                "smoke": False,
                "wall_s": 400.0,
                "stage_work_s": 400 * (1 - overhead),
                "overhead_s": 400 * overhead,
                "overhead_share": overhead,
                "stage_wall_s": {"reward": 200.0},
            }
        ],
        "main_job_before": {
            "command": "align run xwin-pipeline seed=0",
            "stage_work_s": 420.0,
            "stage_wall_s": {"reward": 230.0},
        },
    }


def verdicts(report: str) -> dict[str, str]:
    """Each target's line in the report and its mark."""
    marks = {
        "sampling >= 3x raw": "Target align ≥ 3× raw: ",
        "sft >= 0.95 raw": "| `sft` | 40 × 16 |",
        "dpo memory <= 1.2x sft": "Target ≤ 1.2× sft: ",
        "overhead < 3%": "Target < 3% on the full run: ",
    }
    lines = report.splitlines()
    found = {}
    for target, start in marks.items():
        line = next(line for line in lines if start in line)
        found[target] = "not met" if "**not met**" in line else "met" if "met" in line else "?"
    return found


def test_the_report_marks_each_target_met_or_not():
    met = render_perf(results())
    assert verdicts(met) == dict.fromkeys(verdicts(met), "met") and "| reward | 230.0 | 200.0 |" in met
    assert len(verdicts(met)) == 4
    missed = render_perf(results(speedup=2.0, sft=0.9, dpo_memory=1.3, overhead=0.05))
    assert verdicts(missed) == dict.fromkeys(verdicts(missed), "not met")
    one_off = render_perf(results(sft=0.9))  # each target is judged on its own number
    assert verdicts(one_off) == {
        "sampling >= 3x raw": "met",
        "sft >= 0.95 raw": "not met",
        "dpo memory <= 1.2x sft": "met",
        "overhead < 3%": "met",
    }


@pytest.mark.bench
def test_bench_perf_smoke(tmp_path):
    from align.bench.perf import bench_perf

    report = bench_perf(out=tmp_path / "perf.md", root=tmp_path / "runs", smoke=True).read_text()
    assert "## Sampling" in report and "## Orchestration overhead" in report
    assert "| `sft` |" in report and "| `dpo` |" in report
