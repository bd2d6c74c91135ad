"""The `filter` stage: model scores through align.logprobs, the judge path, the audit file, and its errors."""

import pytest

from align.data.jsonl import read_jsonl, write_jsonl
from align.loading.models import load_causal_lm, load_tokenizer
from align.runtime.progress import track
from align.stages import filter as filter_stage
from align.stages.base import StageContext
from align.training.logprobs import completion_logprobs
from align.world import resolve
from tests.conftest import model_with_other_tokenizer

pytestmark = pytest.mark.slow


def context(tmp_path):
    return StageContext(out_dir=tmp_path, work_dir=tmp_path, seed=0, log=lambda *a: None, progress=track)


def rows(tmp_path, n=12):
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, read_jsonl(resolve("world:corpus"))[:n])
    return str(path)


def mean_logprob(spec, row):
    [scored] = completion_logprobs(
        load_causal_lm(spec, dtype="float32"), load_tokenizer(spec, padding_side="right"), [row]
    )
    return sum(scored.token_logprobs) / len(scored.token_logprobs)


@pytest.mark.parametrize(
    "method, first, second", [("ppl_diff", "small", "large"), ("difference", "teacher", "reference")]
)
def test_model_scores_keep_the_top_fraction_and_audit_every_row(tmp_path, method, first, second):
    data = rows(tmp_path)
    config = filter_stage.Config(
        data=data, method=method, top_fraction=0.5, **{first: "world:base", second: "world:teacher"}
    )
    result = filter_stage.run(config, context(tmp_path))
    audit = read_jsonl(tmp_path / "scores.jsonl")
    assert [a["index"] for a in audit] == list(range(12)) and sum(a["kept"] for a in audit) == 6
    kept_scores = sorted((a["score"] for a in audit if a["kept"]), reverse=True)
    assert kept_scores == sorted((a["score"] for a in audit), reverse=True)[:6]
    source = read_jsonl(data)
    assert read_jsonl(tmp_path / "data.jsonl") == [r for r, a in zip(source, audit) if a["kept"]]  # rows as given
    base, teacher = mean_logprob("world:base", source[0]), mean_logprob("world:teacher", source[0])
    # ppl_diff: log(PPL_base / PPL_teacher) = logp_teacher - logp_base; difference: logp_base - logp_teacher
    expected = teacher - base if method == "ppl_diff" else base - teacher
    assert audit[0]["score"] == pytest.approx(expected, abs=1e-5)
    assert result.metrics["filter/kept"] == 6 and result.metrics["filter/unparsed"] == 0


def test_judge_by_scorer_keeps_by_inclusive_threshold(tmp_path):
    data = rows(tmp_path)
    lengths = sorted(len(r["completion"][0]["content"]) for r in read_jsonl(data))
    config = filter_stage.Config(data=data, method="judge", scorer="tests.fake_scorers:length", threshold=lengths[6])
    filter_stage.run(config, context(tmp_path))
    audit = read_jsonl(tmp_path / "scores.jsonl")
    assert [a["kept"] for a in audit] == [a["score"] >= lengths[6] for a in audit] and sum(
        a["kept"] for a in audit
    ) >= 6


def test_a_judge_that_never_rates_is_an_error_with_counts(tmp_path, monkeypatch):
    class Mumbles:  # a grader whose replies never start with a number
        def generate(self, prompts, params, advance=None):
            return [["I think it is good."] for _ in prompts]

    import align.generation.generators

    monkeypatch.setattr(align.generation.generators, "make_generator", lambda spec, backend="auto": Mumbles())
    monkeypatch.setattr(filter_stage, "check_context", lambda *a: None)
    config = filter_stage.Config(data=rows(tmp_path), method="judge", judge="world:teacher", threshold=4.5)
    with pytest.raises(ValueError, match="no parseable rating for any of the 12 rows"):
        filter_stage.run(config, context(tmp_path))
    assert not (tmp_path / "data.jsonl").exists()


def test_a_rating_prompt_longer_than_the_graders_context_fails_before_generating(tmp_path):
    config = filter_stage.Config(data=rows(tmp_path, 2), method="judge", judge="world:teacher", threshold=4.5)
    with pytest.raises(ValueError, match="handles 256 positions, but the longest rating prompt is"):
        filter_stage.run(config, context(tmp_path))


def test_a_threshold_that_keeps_nothing_is_an_error(tmp_path):
    config = filter_stage.Config(
        data=rows(tmp_path), method="judge", scorer="tests.fake_scorers:length", threshold=10_000
    )
    with pytest.raises(ValueError, match="threshold 10000.0 keeps none of the 12 rows"):
        filter_stage.run(config, context(tmp_path))
    assert not (tmp_path / "data.jsonl").exists()


def test_config_errors():
    with pytest.raises(ValueError, match="exactly one of `threshold`, `top_fraction` and `same_size_as`"):
        filter_stage.Config(data="x.jsonl", method="judge", scorer="exact")
    with pytest.raises(ValueError, match="needs `large`"):
        filter_stage.Config(data="x.jsonl", method="ppl_diff", small="world:base", top_fraction=0.5)
    with pytest.raises(ValueError, match="exactly one of `judge`"):
        filter_stage.Config(data="x.jsonl", method="judge", threshold=4.5)


def test_meta_models_with_different_tokenizers_fail_naming_both(tmp_path):
    other = model_with_other_tokenizer(tmp_path)
    config = filter_stage.Config(
        data="world:corpus", method="ppl_diff", small="world:base", large=str(other), top_fraction=0.5
    )
    with pytest.raises(ValueError, match="different tokenizers") as error:
        filter_stage.check(config)
    assert "world:base" in str(error.value) and str(other) in str(error.value)


def test_random_keeps_a_seeded_same_size_subset(tmp_path):
    data = rows(tmp_path)
    kept = []
    for seed in (0, 0, 1):
        out = tmp_path / f"out{len(kept)}"
        out.mkdir()
        ctx = StageContext(out_dir=out, work_dir=out, seed=seed, log=lambda *a: None, progress=track)
        filter_stage.run(filter_stage.Config(data=data, method="random", top_fraction=0.5), ctx)
        kept.append([a["index"] for a in read_jsonl(out / "scores.jsonl") if a["kept"]])
    assert len(kept[0]) == 6 and kept[0] == kept[1] != kept[2]


def test_evaluate_heldout_nll_is_the_models_mean_token_nll(tmp_path):
    from align.stages import evaluate

    data = rows(tmp_path, 4)
    config = evaluate.Config(model="world:base", heldout=data, verifiable=None, instruct=None, reference=None)
    result = evaluate.run(config, context(tmp_path))
    source = read_jsonl(data)
    model, tokenizer = load_causal_lm("world:base", dtype="float32"), load_tokenizer("world:base", padding_side="right")
    scored = completion_logprobs(model, tokenizer, source)
    tokens = [lp for s in scored for lp in s.token_logprobs]
    assert result.metrics["eval/heldout_nll"] == pytest.approx(-sum(tokens) / len(tokens), abs=1e-5)


def test_same_size_as_and_the_audit_scorer(tmp_path):
    data = rows(tmp_path)
    write_jsonl(tmp_path / "five.jsonl", [{"x": i} for i in range(5)])
    config = filter_stage.Config(
        data=data,
        method="judge",
        scorer="tests.fake_scorers:length",
        same_size_as=str(tmp_path / "five.jsonl"),
        audit="tests.fake_scorers:length",
    )
    result = filter_stage.run(config, context(tmp_path))
    audit = read_jsonl(tmp_path / "scores.jsonl")
    assert sum(a["kept"] for a in audit) == 5 and all(a["audit"] == a["score"] for a in audit)
    assert result.metrics["filter/audit_pearson"] == pytest.approx(1.0)  # the same scorer agrees perfectly
    kept = [a["audit"] for a in audit if a["kept"]]
    assert result.metrics["filter/audit_mean_kept"] == pytest.approx(sum(kept) / 5)
    assert result.metrics["filter/audit_mean_kept"] >= result.metrics["filter/audit_mean_all"]


def test_text_rows_are_scored_on_every_token(tmp_path):
    write_jsonl(tmp_path / "text.jsonl", [{"text": f"{a}+{a}={2 * a}"} for a in range(6)] + [{"text": "zz qq xx"}] * 2)
    config = filter_stage.Config(
        data=str(tmp_path / "text.jsonl"),
        method="difference",
        teacher="world:teacher",
        reference="world:base",
        top_fraction=0.5,
    )
    filter_stage.run(config, context(tmp_path))
    audit = read_jsonl(tmp_path / "scores.jsonl")
    assert len(audit) == 8 and all(a["parsed"] for a in audit) and sum(a["kept"] for a in audit) == 4
    assert read_jsonl(tmp_path / "data.jsonl")[0].keys() == {"text"}


def test_a_model_with_known_log_probs_pins_both_model_scores(tmp_path):
    """A world model with every weight zeroed predicts the uniform distribution: log p = -ln 103 for every token,
    so MiniPLM's difference against it is exactly the other model's mean log-prob + ln 103, and ScalingFilter's
    log d of two uniform models is 0."""
    import math
    import shutil

    import torch

    uniform = tmp_path / "uniform"
    model = load_causal_lm("world:base", dtype="float32")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    model.save_pretrained(str(uniform))
    load_tokenizer("world:base").save_pretrained(str(uniform))
    shutil.copytree(uniform, tmp_path / "uniform2")
    data = rows(tmp_path, 4)
    scores = {}
    for method, models in [
        ("difference", {"teacher": "world:teacher", "reference": str(uniform)}),
        ("ppl_diff", {"small": str(uniform), "large": str(tmp_path / "uniform2")}),
    ]:
        out = tmp_path / method
        out.mkdir()
        ctx = StageContext(out_dir=out, work_dir=out, seed=0, log=lambda *a: None, progress=track)
        filter_stage.run(filter_stage.Config(data=data, method=method, top_fraction=0.5, **models), ctx)
        scores[method] = [a["score"] for a in read_jsonl(out / "scores.jsonl")]
    teacher = [mean_logprob("world:teacher", row) for row in read_jsonl(data)]
    assert scores["difference"] == pytest.approx([t + math.log(103) for t in teacher], abs=1e-5)
    assert scores["ppl_diff"] == pytest.approx([0.0] * 4, abs=1e-6)
