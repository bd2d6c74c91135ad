"""Selection rules over scored samples, by hand: best-of-N, verified with a cap, pairs, source pairs."""

import random

import pytest

from align.data import selection


def group(*scores, texts=None):
    texts = texts or [f"c{i}" for i in range(len(scores))]
    return [{"completion": t, "score": s} for t, s in zip(texts, scores)]


def test_best_of_n_takes_the_max_and_first_on_ties():
    assert selection.best_of_n(group(0.1, 0.9, 0.5))["completion"] == "c1"
    assert selection.best_of_n(group(0.7, 0.2, 0.7))["completion"] == "c0"
    with pytest.raises(ValueError):
        selection.best_of_n([])


def test_verified_unique_filters_dedupes_and_caps():
    g = group(1, 0, 1, 1, 1, 0, texts=["a", "b", "a", "c", "d", "e"])
    kept = selection.verified(g, cap=10, rng=random.Random(0), unique=True)
    assert sorted(s["completion"] for s in kept) == ["a", "c", "d"]  # 'a' once, wrong ones dropped
    capped = selection.verified(g, cap=2, rng=random.Random(0), unique=True)
    assert len(capped) == 2 and {s["completion"] for s in capped} <= {"a", "c", "d"}
    assert selection.verified(group(0, 0), cap=3, rng=random.Random(0)) == []


def test_verified_by_default_keeps_a_solution_as_often_as_it_was_sampled():
    g = group(1, 1, 1, 1, 0, 1, texts=["a", "a", "a", "b", "a", "c"])
    kept = sorted(s["completion"] for s in selection.verified(g, cap=10, rng=random.Random(0)))
    assert kept == ["a", "a", "a", "b", "c"]  # the wrong 'a' is still dropped
    capped = [s["completion"] for s in selection.verified(g * 4, cap=6, rng=random.Random(0))]
    assert len(capped) == 6 and capped.count("a") > capped.count("b")


def test_verified_cap_choice_is_random_but_seeded():
    g = group(*[1] * 20)
    picks = {tuple(s["completion"] for s in selection.verified(g, 3, random.Random(seed))) for seed in range(5)}
    assert len(picks) > 1
    assert selection.verified(g, 3, random.Random(1)) == selection.verified(g, 3, random.Random(1))


def test_random_subset_ignores_scores():
    g = group(0, 0, 0, 1)
    assert len(selection.random_subset(g, 3, random.Random(0))) == 3
    assert len(selection.random_subset(g, 10, random.Random(0))) == 4


def test_ranked_pair_rank_worst_random_and_ties():
    g = group(0.2, 0.9, 0.5, 0.7, 0.1)  # ranks: c1 .9, c3 .7, c2 .5, c0 .2, c4 .1
    rng = random.Random(0)
    chosen, rejected = selection.ranked_pair(g, rng, "rank", rejected_rank=2)
    assert (chosen["completion"], rejected["completion"]) == ("c1", "c3")
    assert selection.ranked_pair(g, rng, "rank", rejected_rank=4)[1]["completion"] == "c0"
    assert selection.ranked_pair(g, rng, "rank", rejected_rank=99)[1]["completion"] == "c4"  # beyond -> last
    assert selection.ranked_pair(g, rng, "worst")[1]["completion"] == "c4"
    assert selection.ranked_pair(g, rng, "random")[1]["completion"] in {"c3", "c2", "c0", "c4"}
    assert selection.ranked_pair(group(0.5, 0.5), rng) is None  # tie: no preference
    assert selection.ranked_pair(group(0.9, 0.1, texts=["x", "x"]), rng) is None  # duplicates collapse
    with pytest.raises(ValueError):
        selection.ranked_pair(g, rng, "rank", rejected_rank=1)


def test_ranked_pair_takes_rejected_from_another_policy():
    pool = group(0.2, 0.9, 0.5)  # chosen = c1 (0.9)
    policy = [{"completion": f"p{i}", "score": s} for i, s in enumerate([0.4, 0.95, 0.1, 0.6])]
    rng = random.Random(0)
    # p1 (0.95) outscores chosen: rank 2 = the policy's best gives no preference
    assert selection.ranked_pair(pool, rng, "rank", 2, rejected_pool=policy) is None
    chosen, rejected = selection.ranked_pair(pool, rng, "rank", 3, rejected_pool=policy)
    assert (chosen["completion"], rejected["completion"]) == ("c1", "p3")
    assert selection.ranked_pair(pool, rng, "worst", rejected_pool=policy)[1]["completion"] == "p2"
    same = [{"completion": "c1", "score": 0.1}]  # the chosen text itself is never its own rejected
    assert selection.ranked_pair(pool, rng, "worst", rejected_pool=same) is None
    assert selection.ranked_pair(pool, rng, "worst", rejected_pool=[]) is None


def test_ranked_pair_subsamples_candidates():
    g = group(*[i / 10 for i in range(10)])
    _chosen, _ = selection.ranked_pair(g, random.Random(3), "worst", num_candidates=3)
    # with 3 random candidates the best is rarely the global best: over seeds it varies
    bests = {selection.ranked_pair(g, random.Random(s), "worst", num_candidates=3)[0]["score"] for s in range(20)}
    assert len(bests) > 1 and max(bests) <= 0.9


def test_group_by_prompt_keeps_order():
    rows = [{"p": "b"}, {"p": "a"}, {"p": "b"}]
    assert selection.group_by_prompt(rows, lambda r: r["p"]) == [[rows[0], rows[2]], [rows[1]]]


def test_all_pairs_orders_and_caps():
    g = group(0.9, 0.5, 0.5, 0.1)
    pairs = selection.all_pairs(g, cap=100, rng=random.Random(0))
    assert len(pairs) == 5  # 0.9>0.5 (x2), 0.9>0.1, 0.5>0.1 (x2); the 0.5/0.5 tie gives none
    assert all(a["score"] > b["score"] for a, b in pairs)
    assert len(selection.all_pairs(g, cap=2, rng=random.Random(0))) == 2


def test_select_scores_in_place_for_data_and_rejected_from_with_one_scorer(tmp_path, monkeypatch):
    from align.data.jsonl import read_jsonl, write_jsonl
    from align.runtime.progress import track
    from align.stages import select
    from align.stages.base import StageContext
    from rewards import make_scorer

    samples = lambda outs: [{"prompt": "p", "completion": c, "sample_index": i} for i, c in enumerate(outs)]  # noqa
    write_jsonl(tmp_path / "pool.jsonl", samples(["aaaa", "aa"]))
    write_jsonl(tmp_path / "policy.jsonl", samples(["aaa", "a"]))
    built = []
    monkeypatch.setattr(select, "make_scorer", lambda spec: built.append(spec) or make_scorer(spec))
    config = select.Config(
        data=str(tmp_path / "pool.jsonl"),
        rule="pairs",
        rejected="worst",
        rejected_from=str(tmp_path / "policy.jsonl"),
        scorer="tests.fake_scorers:length",
    )
    ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path, seed=0, log=lambda *a: None, progress=track)
    select.run(config, ctx)
    [pair] = read_jsonl(tmp_path / "data.jsonl")
    assert (pair["chosen"], pair["rejected"]) == ("aaaa", "a")  # longest of the pool, shortest of the policy
    assert (pair["chosen_score"], pair["rejected_score"]) == (4.0, 1.0)
    assert built == ["tests.fake_scorers:length"]  # one scorer (one model, for a reward model) for both files


def test_source_pairs_prefers_the_source_and_skips_identical_text():
    teacher = [{"completion": c} for c in ["t1", "t2", "same"]]
    student = [{"completion": c} for c in ["s1", "s1", "same"]]  # a repeat is one distinct response
    pairs = selection.source_pairs(teacher, student, cap=10, rng=random.Random(0))
    assert all(a in teacher and b in student and a["completion"] != b["completion"] for a, b in pairs)
    assert 1 <= len(pairs) <= 2  # two distinct student responses: at most two pairs
    assert len(selection.source_pairs(teacher, student, cap=1, rng=random.Random(0))) == 1
    assert selection.source_pairs([{"completion": "x"}], [{"completion": "x"}], 5, random.Random(0)) == []


def test_select_source_pairs_needs_no_scores_and_a_rejected_pool(tmp_path):
    from align.data.jsonl import read_jsonl, write_jsonl
    from align.runtime.progress import track
    from align.stages import select
    from align.stages.base import StageContext

    write_jsonl(tmp_path / "teacher.jsonl", [{"prompt": p, "completion": f"T {p}", "sample_index": 0} for p in "abc"])
    write_jsonl(tmp_path / "student.jsonl", [{"prompt": p, "completion": f"S {p}", "sample_index": 0} for p in "cba"])
    config = select.Config(
        data=str(tmp_path / "teacher.jsonl"), rule="source_pairs", rejected_from=str(tmp_path / "student.jsonl")
    )
    select.run(config, StageContext(out_dir=tmp_path, work_dir=tmp_path, seed=0, log=lambda *a: None, progress=track))
    pairs = read_jsonl(tmp_path / "data.jsonl")
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in pairs] == [(p, f"T {p}", f"S {p}") for p in "abc"]
    with pytest.raises(ValueError, match="needs `rejected_from`"):
        select.Config(data="x.jsonl", rule="source_pairs")


def test_select_pairs_min_margin_drops_narrow_pairs_and_says_how_many(tmp_path):
    from align.data.jsonl import read_jsonl, write_jsonl
    from align.runtime.progress import track
    from align.stages import select
    from align.stages.base import StageContext

    rows = [
        {"prompt": p, "completion": c, "score": s, "sample_index": i}
        for p, outs in {"a": [("a1", 5.0), ("a2", 1.0)], "b": [("b1", 3.0), ("b2", 2.5)]}.items()
        for i, (c, s) in enumerate(outs)
    ]
    write_jsonl(tmp_path / "scored.jsonl", rows)
    ctx = StageContext(out_dir=tmp_path, work_dir=tmp_path, seed=0, log=lambda *a: None, progress=track)
    config = select.Config(data=str(tmp_path / "scored.jsonl"), rule="pairs", rejected="worst", min_margin=1.0)
    result = select.run(config, ctx)
    assert [(r["chosen"], r["rejected"]) for r in read_jsonl(tmp_path / "data.jsonl")] == [("a1", "a2")]
    assert result.metrics["select/dropped_narrow"] == 1
    with pytest.raises(ValueError, match="kept nothing"):
        select.run(config.model_copy(update={"min_margin": 10.0}), ctx)
    with pytest.raises(ValueError, match="min_margin applies to rules"):
        select.Config(data="x.jsonl", rule="best_of_n", min_margin=1.0)
