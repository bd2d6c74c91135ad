"""The spread rule of `align bench learning` and the seeded ReST-EM section, on hand-built results."""

from align.bench.rest_em import render_rest_em
from align.bench.stats import change, holds, mean_sd, paired, step_holds, t_975


def test_holds_needs_a_difference_beyond_both_spreads_and_more_than_one_seed():
    assert mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert holds([0.9, 0.91, 0.92], [0.8, 0.81, 0.82])
    assert not holds([0.9, 0.7, 0.8], [0.75, 0.78, 0.8])  # means differ, spreads overlap
    assert not holds([0.9], [0.1])  # one seed: no spread, no claim
    assert holds([0.1, 0.11], [0.5, 0.52], sign=-1)  # lower is better


def test_paired_step_cancels_the_seeds_shared_luck_and_is_stricter_when_there_is_none():
    consistent = [(0.40, 0.47), (0.30, 0.38), (0.35, 0.41)]  # every seed gains 0.06-0.08; seeds differ by 0.1
    assert step_holds(consistent) and not holds([b for _, b in consistent], [a for a, _ in consistent])
    assert change(consistent) == "+0.070 (within the spread; paired: holds)"
    mixed = [(0.40, 0.50), (0.40, 0.35), (0.40, 0.50)]  # one seed loses: the interval takes in zero
    assert not step_holds(mixed) and not step_holds(mixed, -1)
    assert not step_holds([(0.1, 0.9)])  # one seed: no claim
    assert step_holds([(0.5, 0.4), (0.6, 0.45), (0.55, 0.43)], sign=-1)
    assert (t_975(2), t_975(12), t_975(40)) == (4.303, 2.228, 1.96)


def test_paired_takes_the_runs_that_have_both_stages_in_seed_order():
    runs = [
        {"stages": {"a": {"m": 0.1}, "b": {"m": 0.3}}},
        {"stages": {"a": {"m": 0.2}}},
        {"stages": {"a": {"m": 0.4}, "b": {"m": 0.5}}},
    ]
    assert paired(runs, "a", "b", "m") == [(0.1, 0.3), (0.4, 0.5)]


def run(group: str, seed: int, passes: list[float], digest: str = "base") -> dict:
    stages = {"eval_base" if i == 0 else f"it{i}-eval": {"eval/pass@1": p} for i, p in enumerate(passes)}
    stages.update(
        {f"it{i}-select": {"select/prompts_kept": 100 + i, "select/kept": 200} for i in range(1, len(passes))}
    )
    stages["best"] = {"best/index": len(passes) - 1}
    return {
        "label": f"{group} seed={seed}",
        "group": group,
        "seed": seed,
        "command": f"align run rest-em seed={seed}",
        "wall_s": 10.0,
        "stages": stages,
        "key_metrics": {},
        "model_digest": "base",
        "start_weights": {f"it{i}-sft": digest for i in range(1, len(passes))},
    }


def test_seeded_rest_em_marks_each_iteration_and_compares_runs(tmp_path):
    three = [
        run("rest-em hard, 3 iterations", s, [0.10 + d, 0.40 + d, 0.60 + d, 0.61 + d * d3])
        for s, (d, d3) in enumerate(((0.0, 1), (0.01, -1), (0.02, 1)))
    ]
    one = [
        run("rest-em hard, 1 iteration, 3x samples", s, [0.10 + d, 0.45 + d], digest="other")
        for s, d in enumerate((0.0, 0.01, 0.02))
    ]
    text = "\n".join(render_rest_em(three + one, tmp_path))
    assert "mean ± sd over 3 seeds" in text
    assert "| iteration 1 | 0.410 ± 0.010 | +0.300 (holds; paired: holds) |" in text
    assert "| iteration 3 | 0.613 ± 0.015 | +0.003 (within the spread; paired: does not) |" in text
    assert "| rest-em hard, 3 iterations | rest-em hard, 1 iteration, 3x samples | +0.153 | **holds** |" in text
    assert "| 101 ± 0 | 200 ± 0 | yes |" in text and "| NO |" in text  # the other group's M-step left the base
    assert (tmp_path / "learning_rest_em.png").exists()
