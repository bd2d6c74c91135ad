"""The `split` stage: disjoint named parts in order, `null` = the rest, seeded shuffle, and its errors."""

import pytest

from align.data.jsonl import read_jsonl, write_jsonl
from align.runtime.progress import track
from align.stages import split
from align.stages.base import StageContext


def run(tmp_path, seed=0, **config):
    ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path, seed=seed, log=lambda *a: None, progress=track)
    return split.run(split.Config(**config), ctx)


def test_parts_are_disjoint_in_order_and_the_rest_goes_last(tmp_path):
    write_jsonl(tmp_path / "rows.jsonl", [{"i": i} for i in range(10)])
    result = run(tmp_path, data=str(tmp_path / "rows.jsonl"), parts={"a": 3, "b": 2, "rest": None})
    assert [r["i"] for r in read_jsonl(tmp_path / "a.jsonl")] == [0, 1, 2]
    assert [r["i"] for r in read_jsonl(tmp_path / "b.jsonl")] == [3, 4]
    assert [r["i"] for r in read_jsonl(tmp_path / "rest.jsonl")] == [5, 6, 7, 8, 9]
    assert result.outputs == {"a": "a.jsonl", "b": "b.jsonl", "rest": "rest.jsonl"}
    assert result.metrics == {"split/a": 3, "split/b": 2, "split/rest": 5}


def test_shuffle_is_seeded(tmp_path):
    write_jsonl(tmp_path / "rows.jsonl", [{"i": i} for i in range(20)])
    picks = []
    for seed in (0, 0, 1):
        out = tmp_path / f"out{len(picks)}"
        out.mkdir()
        ctx = StageContext(out_dir=out, work_dir=out, seed=seed, log=lambda *a: None, progress=track)
        split.run(split.Config(data=str(tmp_path / "rows.jsonl"), parts={"a": 5}, shuffle=True), ctx)
        picks.append([r["i"] for r in read_jsonl(out / "a.jsonl")])
    assert picks[0] == picks[1] != picks[2] and picks[0] != [0, 1, 2, 3, 4]


def test_errors(tmp_path):
    write_jsonl(tmp_path / "rows.jsonl", [{"i": i} for i in range(4)])
    with pytest.raises(ValueError, match="the parts need 5 rows, the dataset has 4"):
        run(tmp_path, data=str(tmp_path / "rows.jsonl"), parts={"a": 3, "b": 2})
    with pytest.raises(ValueError, match="part 'b' would be empty"):
        run(tmp_path, data=str(tmp_path / "rows.jsonl"), parts={"a": 4, "b": None})
    with pytest.raises(ValueError, match="only the last part may be null"):
        split.Config(data="x.jsonl", parts={"a": None, "b": 2})
    with pytest.raises(ValueError, match="they name files"):
        split.Config(data="x.jsonl", parts={"../a": 2})
