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


def test_a_users_judge_is_not_the_gold_judge_and_every_number_says_what_measured_it(tmp_path):
    """A user's judge's mean is `eval/judge_score`, never `eval/gold_score`; the stage records the dataset, rows,
    scorer and decoding behind each metric, and the report prints them (one line when stages agree)."""
    from align.engine.report import measured_on

    path = write_recipe(
        tmp_path,
        """tracking: none
stages:
  mine: {stage: evaluate, model: world:base, verifiable: null, reference: null, instruct: world:instruct_test,
         judge: tests.fake_scorers:length, instruct_samples: 2, temperature: 0.5, limit: 4}
  gold: {stage: evaluate, model: world:base, verifiable: null, reference: null, instruct: world:instruct_test,
         limit: 4}
""",
    )
    mine, gold = Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert set(mine["metrics"]) == {"eval/judge_score", "eval/judge_score_sampled"}
    assert set(gold["metrics"]) == {"eval/gold_score"}
    assert mine["values"]["measured_on"] == {
        "eval/judge_score": "world:instruct_test (4 rows), judge tests.fake_scorers:length, greedy",
        "eval/judge_score_sampled": "world:instruct_test (4 rows), judge tests.fake_scorers:length, "
        "2 samples/row at T=0.5",
    }
    assert "warnings" not in mine["values"]  # a world model on world sets
    assert measured_on([gold, {**gold, "name": "again"}], ["eval/gold_score"]) == [
        "eval/gold_score: world:instruct_test (4 rows), judge gold_judge, greedy"
    ]
    assert measured_on([gold, {**mine, "name": "m2"}], ["eval/judge_score"]) == [
        "eval/judge_score: world:instruct_test (4 rows), judge tests.fake_scorers:length, greedy"
    ]
    differing = [gold, {**gold, "name": "g2", "values": {"measured_on": {"eval/gold_score": "other set"}}}]
    assert measured_on(differing, ["eval/gold_score"]) == [
        "eval/gold_score (gold): world:instruct_test (4 rows), judge gold_judge, greedy",
        "eval/gold_score (g2): other set",
    ]


def test_reference_tasks_may_be_conversations(tmp_path):
    """A conversation's last assistant turn is its reference: the same tasks as messages score as prompt/completion."""
    from align.data.jsonl import write_jsonl
    from align.loading.datasets import load_dataset

    rows = load_dataset("world:reference_test", "sft", 4)
    write_jsonl(tmp_path / "chats.jsonl", [{"messages": r["prompt"] + r["completion"]} for r in rows])
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  pairs: {{stage: evaluate, model: world:base, verifiable: null, instruct: null, limit: 4}}
  chats: {{stage: evaluate, model: world:base, verifiable: null, instruct: null, reference: {tmp_path}/chats.jsonl}}
""",
    )
    pairs, chats = Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert chats["metrics"]["eval/rouge_l"] == pairs["metrics"]["eval/rouge_l"]
    assert read_jsonl(tmp_path / "run" / "chats" / "data.jsonl") == read_jsonl(
        tmp_path / "run" / "pairs" / "data.jsonl"
    )


def test_right_working_is_the_worlds_check_beside_the_verifier():
    """A right answer by wrong working passes the verifier but not the world's check of the working."""
    from align.stages.evaluate import right_working
    from align.world import tasks

    rows = [{"prompt": tasks.user(tasks.arith_prompt("93-6+9"))}] * 2
    right = "93-6=87;87+9=96;\\boxed{96}"
    lucky = "93+9=102;102-6=96;\\boxed{96}"  # the verifier accepts it: the answer is right
    assert right_working(rows, [right, lucky]) == {"eval/right_working": 0.5}
    assert right_working([{"prompt": tasks.user("Say hi.")}], ["hi"]) == {}  # data the world does not know
