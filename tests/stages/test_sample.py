"""The `sample` stage: a killed stage resumes from its saved chunks with the samples it would have drawn."""

import json


def test_sample_resumes_from_saved_chunks(tmp_path):

    from align.data.jsonl import write_jsonl
    from align.runtime.progress import track
    from align.stages import sample
    from align.stages.base import StageContext

    config = sample.Config(model="world:base", prompts="world:instruct_test", n=2, limit=4, chunk=2, max_new_tokens=16)
    work = tmp_path / "work"
    work.mkdir()
    marker = [
        {
            "prompt": [{"role": "user", "content": f"p{i}"}],
            "completion": "from the killed run",
            "sample_index": 0,
            "policy": "x",
        }
        for i in range(4)
    ]
    write_jsonl(work / "chunk-00000.jsonl", marker)  # the first chunk finished before the kill
    ctx = StageContext(out_dir=tmp_path / "out", work_dir=work, seed=0, log=lambda *a: None, progress=track)
    (tmp_path / "out").mkdir()
    result = sample.run(config, ctx)
    rows = [json.loads(line) for line in (tmp_path / "out" / "data.jsonl").read_text().splitlines()]
    assert rows[:4] == marker  # reused, not resampled
    assert len(rows) == 8 and all(r["completion"] != "from the killed run" for r in rows[4:])
    assert result.metrics["sample/completions"] == 8
    assert (work / "chunk-00001.jsonl").exists()
