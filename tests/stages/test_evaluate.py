"""The `evaluate` stage: Rouge-L against each row's reference, the teacher's agreement with the greedy outputs."""

import pytest

from align.data.jsonl import read_jsonl
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.loading.models import load_causal_lm, load_tokenizer
from align.training.logprobs import completion_logprobs
from tests.conftest import write_recipe


def test_rouge_scorer_scores_against_each_rows_reference():
    from align.stages.evaluate import rouge_scorer
    from align.world import tasks

    rows = [{"completion": tasks.assistant("bus lime blue eel")}, {"completion": "a b c d"}]
    assert rouge_scorer(None, ["bus lime blue eel", "a b x y"], rows) == [1.0, pytest.approx(0.5)]


def test_teacher_agreement_is_the_teachers_log_prob_of_the_greedy_completions(tmp_path):
    """eval/teacher_logprob: the teacher's own greedy text scores higher under it than the base model's, and the
    value is the token-weighted mean of `completion_logprobs` on the completions evaluate wrote."""
    path = write_recipe(
        tmp_path,
        """tracking: none
stages:
  student: {stage: evaluate, model: 'world:base', teacher: 'world:teacher', verifiable: null, instruct: null,
            limit: 6}
  itself: {stage: evaluate, model: 'world:teacher', teacher: 'world:teacher', verifiable: null, instruct: null,
           limit: 6}
""",
    )
    ran = {s["name"]: s["metrics"] for s in Engine(load_recipe(str(path)), tmp_path / "run").run()}
    assert ran["itself"]["eval/teacher_logprob"] > ran["student"]["eval/teacher_logprob"]
    records = read_jsonl(tmp_path / "run" / "student" / "data.jsonl")
    teacher = load_causal_lm("world:teacher", dtype="float32")
    scored = completion_logprobs(
        teacher,
        load_tokenizer("world:teacher", padding_side="right"),
        [{"prompt": r["prompt"], "completion": r["completion"]} for r in records],
    )
    tokens = [lp for s in scored for lp in s.token_logprobs]
    assert ran["student"]["eval/teacher_logprob"] == pytest.approx(sum(tokens) / len(tokens), abs=1e-5)


def test_teacher_agreement_needs_reference_tasks():
    from align.stages import evaluate

    with pytest.raises(ValueError, match="reference is null"):
        evaluate.Config(model="world:base", teacher="world:teacher", reference=None)
