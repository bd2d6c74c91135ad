"""The `distill` stage's offline methods on cached teacher targets, pinned at step 0: with the teacher as its own
student, DPKD starts at ln 2 (every argmax agrees) and KD at the teacher's mean entropy; `sft` starts at the
student's mean NLL of the completions."""

import math

import pytest

from align.data.jsonl import read_jsonl, write_jsonl
from align.engine.recipe import load_recipe
from align.engine.runlog import read_metrics
from align.engine.runner import Engine
from align.errors import AlignError
from align.loading.models import load_causal_lm, load_tokenizer
from align.training.logprobs import completion_logprobs
from align.training.teacher_targets import load
from align.world import resolve
from tests.conftest import model_with_other_tokenizer, write_recipe

pytestmark = pytest.mark.slow
STEP0 = "max_steps: 1, logging_steps: 1, batch_size: 8, learning_rate: 0.0001"


def first_loss(run_dir, stage):
    [row] = [m for m in read_metrics(run_dir) if m["stage"] == stage and m["name"] == "train/loss" and m["step"] == 1]
    return row["value"]


def test_offline_methods_start_at_their_known_values(tmp_path):
    rows = read_jsonl(resolve("world:reference_train"))[:8]
    write_jsonl(tmp_path / "refs.jsonl", rows)
    refs = f"{tmp_path}/refs.jsonl"
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  teacher: {{stage: teacher, model: 'world:teacher', data: {refs}, targets_on: [references], respond: false,
            top_k: 103}}
  self_dpkd: {{stage: distill, method: dpkd, kd_ratio: 1.0, model: 'world:teacher', data: {refs},
              targets: '${{teacher.references_targets}}', {STEP0}}}
  self_kd: {{stage: distill, method: kd, kd_ratio: 1.0, model: 'world:teacher', data: {refs},
            targets: '${{teacher.references_targets}}', {STEP0}}}
  base_sft: {{stage: distill, method: sft, model: 'world:base', data: {refs}, {STEP0}}}
  self_kd_pt: {{stage: distill, method: kd, kd_ratio: 1.0, model: 'world:teacher', data: {refs},
               targets: '${{teacher.references_targets}}', pretrain_data: {refs},
               pretrain_targets: '${{teacher.references_targets}}', lm_coef: 0.5, {STEP0}}}
  base_sft_pt: {{stage: distill, method: sft, model: 'world:base', data: {refs}, pretrain_data: {refs},
                lm_coef: 0.25, {STEP0}}}
""",
    )
    Engine(load_recipe(str(path)), tmp_path / "run").run()
    run_dir = tmp_path / "run"
    assert first_loss(run_dir, "self_dpkd") == pytest.approx(math.log(2), abs=1e-4)
    agree = [
        m["value"]
        for m in read_metrics(run_dir)
        if m["stage"] == "self_dpkd" and m["name"] == "train/dpkd/agree" and m["step"] == 1
    ]
    assert agree == [pytest.approx(1.0)]
    targets = load(run_dir / "teacher" / "references.targets.safetensors")
    entropy = -(targets.logps.exp() * targets.logps).sum(-1).mean()  # token-weighted, all 8 rows
    assert first_loss(run_dir, "self_kd") == pytest.approx(float(entropy), abs=1e-4)
    tokenizer, base = load_tokenizer("world:base", padding_side="right"), load_causal_lm("world:base", dtype="float32")
    scored = completion_logprobs(
        base, tokenizer, [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
    )
    nll = -sum(sum(s.token_logprobs) for s in scored) / sum(len(s.token_logprobs) for s in scored)
    assert first_loss(run_dir, "base_sft") == pytest.approx(nll, abs=1e-4)
    # the pretraining term: its batch is the same 8 rows here, so L = (1 + c)·L_method; with targets L_PT is
    # (1 - λ)·CE + λ·KD (λ = 1: the teacher's entropy again), without them plain CE
    assert first_loss(run_dir, "self_kd_pt") == pytest.approx(1.5 * float(entropy), abs=1e-4)
    [pt] = [
        m["value"]
        for m in read_metrics(run_dir)
        if m["stage"] == "self_kd_pt" and m["name"] == "train/pt/loss" and m["step"] == 1
    ]
    assert pt == pytest.approx(float(entropy), abs=1e-4)  # logged on its own: L_PT before the weight c
    assert first_loss(run_dir, "base_sft_pt") == pytest.approx(1.25 * nll, abs=1e-4)


def test_targets_for_other_rows_are_refused_before_training(tmp_path):
    rows = read_jsonl(resolve("world:reference_train"))[:8]
    write_jsonl(tmp_path / "a.jsonl", rows[:4])
    write_jsonl(tmp_path / "b.jsonl", rows[4:])
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  teacher: {{stage: teacher, model: 'world:teacher', data: {tmp_path}/a.jsonl, targets_on: [references],
            respond: false, top_k: 8}}
  student: {{stage: distill, method: dpkd, model: 'world:base', data: {tmp_path}/b.jsonl,
            targets: '${{teacher.references_targets}}', max_steps: 1}}
""",
    )
    with pytest.raises(AlignError, match="built for other rows"):
        Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert not (tmp_path / "run" / "student" / "DONE").exists()


def test_token_methods_need_targets():
    from align.stages import distill

    with pytest.raises(ValueError, match="not 'onpolicy'"):
        distill.Config(
            model="world:base",
            data="world:sft",
            method="onpolicy",
            teacher="world:teacher",
            pretrain_data="world:corpus",
        )
    with pytest.raises(ValueError, match="pretrain_targets needs pretrain_data"):
        distill.Config(model="world:base", data="world:sft", method="sft", pretrain_targets="x.safetensors")

    with pytest.raises(ValueError, match="method 'kd' needs `targets`"):
        distill.Config(model="world:base", data="world:sft", method="kd")


def test_kd_recipe_smoke_runs_every_method_of_both_recipes(tmp_path):
    summaries = Engine(load_recipe("kd", ["tracking=none"], smoke=True), tmp_path / "run").run()
    ran = {s["name"]: s["metrics"] for s in summaries}
    dpkd = [s.name for s in load_recipe("dpkd").stages]
    assert list(ran) == dpkd + [
        "kd",
        "eval_kd",
        "onpolicy_fkl",
        "eval_onpolicy_fkl",
        "onpolicy_rkl",
        "eval_onpolicy_rkl",
        "sft_all",
        "eval_sft_all",
    ]
    assert {"sft", "seqkd", "dpkd", "dpkd_no_ce", "dpkd_pt", "dpkd_seq", "eval_dpkd_seq"} <= set(dpkd)
    assert ran["sft"]["train/examples"] == 100 and ran["seqkd"]["train/examples"] == 32
    students = ("sft", "seqkd", "dpkd", "dpkd_no_ce", "dpkd_pt", "dpkd_seq", "kd", "onpolicy_fkl", "sft_all")
    assert all(ran[name]["train/steps"] == 4 for name in students)  # one step budget for every student
    assert ran["sft_all"]["train/examples"] == 1000
    assert ran["dpkd_pairs"]["select/kept"] >= 28  # teacher vs student response for (nearly) every prompt
    assert all(
        {"eval/rouge_l", "eval/rouge_l_sampled", "eval/teacher_logprob"} <= set(ran[name])
        for name in ran
        if name.startswith("eval_")
    )


def test_a_teacher_with_another_tokenizer_fails_before_anything_runs(tmp_path):
    from typer.testing import CliRunner

    from align.cli import app

    other = model_with_other_tokenizer(tmp_path)
    result = CliRunner().invoke(app, ["run", "kd", f"teacher={other}", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and "stage 'dpkd'" in result.output and "different tokenizers" in result.output
    assert str(other) in result.output and "world:base" in result.output
    assert not (tmp_path / "run").exists()
    targets = "{stage: teacher, model: 'world:teacher', data: world:reference_train, limit: 4, top_k: 4}"
    token_level = {  # each token-level stage checks on its own, before the teacher stage runs
        "kd": f"{{stage: distill, method: kd, model: 'world:base', teacher: '{other}', data: world:reference_train,"
        f" targets: '${{targets.responses_targets}}'}}",
        "onpolicy": f"{{stage: distill, method: onpolicy, model: 'world:base', teacher: '{other}', "
        f"data: world:reference_train}}",
        "dpo": f"{{stage: dpo, model: 'world:base', ref_model: '{other}', data: {tmp_path}/pairs.jsonl}}",
    }
    write_jsonl(tmp_path / "pairs.jsonl", [{"prompt": "a", "chosen": "b", "rejected": "c"}])
    for stage, spec in token_level.items():
        only = write_recipe(
            tmp_path, f"tracking: none\nstages:\n  targets: {targets}\n  {stage}: {spec}\n", name=f"{stage}.yaml"
        )
        result = CliRunner().invoke(app, ["run", str(only), "--run-dir", str(tmp_path / stage)])
        assert result.exit_code == 2 and f"stage '{stage}'" in result.output, result.output
        assert "different tokenizers" in result.output and not (tmp_path / stage).exists()
    # seqkd learns from text: any teacher works
    ok = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  targets: {{stage: teacher, model: '{other}', data: world:reference_train, limit: 8, targets_on: [], top_k: 4}}
  seqkd: {{stage: distill, method: seqkd, model: 'world:base', teacher: '{other}',
          data: '${{targets.responses}}', max_steps: 1}}
""",
        name="seqkd.yaml",
    )
    result = CliRunner().invoke(app, ["run", str(ok), "--run-dir", str(tmp_path / "seqkd")])
    assert result.exit_code == 0, result.output


def test_targets_from_another_teacher_are_refused(tmp_path):
    rows = read_jsonl(resolve("world:reference_train"))[:8]
    write_jsonl(tmp_path / "refs.jsonl", rows)
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  teacher: {{stage: teacher, model: 'world:teacher', data: {tmp_path}/refs.jsonl, targets_on: [references],
            respond: false, top_k: 8}}
  student: {{stage: distill, method: kd, model: 'world:base', teacher: 'world:base', data: {tmp_path}/refs.jsonl,
            targets: '${{teacher.references_targets}}', max_steps: 1}}
""",
    )
    with pytest.raises(AlignError, match="not by this stage's teacher 'world:base'"):
        Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert not (tmp_path / "run" / "student" / "DONE").exists()


@pytest.mark.parametrize("jsd_beta", [0.0, 1.0], ids=["forward-kl", "reverse-kl"])
def test_onpolicy_distillation_trains_with_trls_trainer(tmp_path, jsd_beta):
    from align.loading.digests import weights_digest

    rows = read_jsonl(resolve("world:reference_train"))[:8]
    write_jsonl(tmp_path / "refs.jsonl", rows)
    path = write_recipe(
        tmp_path,
        f"tracking: none\nstages:\n  onpolicy: {{stage: distill, method: onpolicy, "
        f"model: 'world:base', teacher: 'world:teacher', data: {tmp_path}/refs.jsonl, "
        f"jsd_beta: {jsd_beta}, max_new_tokens: 8, max_steps: 2, batch_size: 4, "
        f"logging_steps: 1}}\n",
    )
    [summary] = Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert summary["metrics"]["train/steps"] == 2 and math.isfinite(summary["metrics"]["train/loss"])
    tuned = load_causal_lm(str(tmp_path / "run" / "onpolicy" / "model"), dtype="float32")
    assert weights_digest(tuned) != summary["values"]["start_weights"]


def test_onpolicy_needs_a_teacher():
    from align.stages import distill

    with pytest.raises(ValueError, match="'onpolicy' needs `teacher`"):
        distill.Config(model="world:base", data="world:sft", method="onpolicy")


def test_a_teacher_that_is_not_a_model_fails_before_anything_runs(tmp_path):
    from typer.testing import CliRunner

    from align.cli import app

    (tmp_path / "not-a-model").mkdir()
    result = CliRunner().invoke(
        app, ["run", "dpkd", f"teacher={tmp_path}/not-a-model", "--run-dir", str(tmp_path / "run")]
    )
    assert result.exit_code == 2 and "stage 'eval_teacher'" in result.output
    assert "not a Hugging Face model dir" in result.output and not (tmp_path / "run").exists()


def test_targets_cut_shorter_than_the_students_rows_are_refused(tmp_path):
    """Issue 28, finding 7: a teacher stage with a small max_length cached a fraction of the completion tokens, and
    the student masked out its CE on the rest (max_length 8: `train/loss 0.0`)."""
    write_jsonl(tmp_path / "refs.jsonl", read_jsonl(resolve("world:reference_train"))[:8])

    def recipe(teacher_length: int, student_length: int):
        return write_recipe(
            tmp_path,
            f"""tracking: none
stages:
  teacher: {{stage: teacher, model: 'world:teacher', data: {tmp_path}/refs.jsonl, targets_on: [references],
            respond: false, top_k: 8, max_length: {teacher_length}}}
  student: {{stage: distill, method: kd, model: 'world:base', data: {tmp_path}/refs.jsonl,
            targets: '${{teacher.references_targets}}', max_steps: 1, max_length: {student_length}}}
""",
        )

    with pytest.raises(AlignError, match=r"the teacher targets miss \d+ completion tokens the student trains on"):
        Engine(load_recipe(str(recipe(40, 512))), tmp_path / "cut").run()
    assert not (tmp_path / "cut" / "student" / "DONE").exists()
    with pytest.raises(AlignError, match="no references row keeps a completion token within max_length=8"):
        Engine(load_recipe(str(recipe(8, 512))), tmp_path / "none").run()
    Engine(load_recipe(str(recipe(40, 40))), tmp_path / "same").run()  # a student cut where the teacher was: fine
    assert (tmp_path / "same" / "student" / "DONE").exists()
