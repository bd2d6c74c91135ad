"""The `pick_best` stage: the best of several models by a held-out metric, the earliest on ties, and whether a
later one regressed."""

import json

import pytest

from align.stages import pick_best
from align.stages.base import StageContext


def run(tmp_path, values: list, metric: str = "eval/pass@1", lookup: str | None = None):
    paths = []
    for i, value in enumerate(values):
        path = tmp_path / f"m{i}.json"
        path.write_text(json.dumps({metric: value, "eval/other": -i}))
        paths.append(str(path))
    config = pick_best.Config(models=[f"model-{i}" for i in range(len(values))], metrics=paths, metric=lookup or metric)
    ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path, seed=0, log=lambda *a: None)
    return pick_best.run(config, ctx)


def test_keeps_the_best_and_says_a_later_one_regressed(tmp_path):
    result = run(tmp_path, [0.3, 0.9, 0.7])
    assert result.values == {"model": "model-1"}
    assert result.metrics == {"best/index": 1, "best/value": 0.9, "best/last_value": 0.7, "best/regressed": 1.0}


def test_ties_go_to_the_earliest_and_a_rising_run_did_not_regress(tmp_path):
    result = run(tmp_path, [0.5, 0.8, 0.8])
    assert result.values == {"model": "model-1"} and result.metrics["best/regressed"] == 0.0


def test_a_missing_metric_names_the_file_and_what_it_has(tmp_path):
    with pytest.raises(ValueError, match=r"m0\.json has no metric 'eval/nope' \(has \['eval/other', 'eval/pass@1'\]\)"):
        run(tmp_path, [0.1], lookup="eval/nope")


def test_models_and_metrics_must_pair_up():
    with pytest.raises(ValueError, match="same length"):
        pick_best.Config(models=["a", "b"], metrics=["m.json"])
