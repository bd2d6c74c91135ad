"""Recipes: YAML in, a validated plan of stages out; overrides, smoke, repeat blocks, extends; every shipped recipe."""

import json

import pytest

from align.engine.recipe import load_recipe, parse_override
from align.engine.recipe_files import RECIPES_DIR
from align.errors import AlignError
from align.refs import REF
from tests.conftest import write_recipe

RECIPE = """
name: demo
seed: 3
greeting: hello
stages:
  first: {stage: echo, value: "${greeting}"}
  second: {stage: echo, value: b, source: "${first.text}"}
smoke:
  stages.second.value: smoke
"""


def test_override_values_are_typed():
    assert parse_override("stages.sample.n=16") == (["stages", "sample", "n"], 16)
    assert parse_override("seed=1")[1] == 1
    assert parse_override("x=0.5")[1] == 0.5
    assert parse_override("flag=true")[1] is True
    assert parse_override("model=world:base")[1] == "world:base"


def test_substitution_smoke_and_overrides(tmp_path, fake_stages):
    path = write_recipe(tmp_path, RECIPE)
    recipe = load_recipe(str(path), ["greeting=hi", "seed=7"], smoke=True)
    first, second = recipe.stages
    assert recipe.seed == 7
    assert first.config["value"] == "hi"  # ${greeting} after the override
    assert second.config["value"] == "smoke"  # smoke override
    assert second.config["source"] == "${first.text}"  # runtime reference left for the engine


@pytest.mark.parametrize(
    "override, message",
    [
        ("nonexistent=1", "unknown recipe key 'nonexistent'"),
        ("stages.third.value=1", "unknown stage 'third'"),
        ("stages.first.bogus=1", "unknown key 'bogus'"),
        ("stages.first.fail=notabool", "key 'fail'"),
        ("seed=abc", "seed must be an integer"),
        ("novalue", "is not key=value"),
    ],
)
def test_bad_overrides_name_the_key(tmp_path, fake_stages, override, message):
    path = write_recipe(tmp_path, RECIPE)
    with pytest.raises(AlignError, match=message):
        load_recipe(str(path), [override])


def test_unknown_stage_type_and_recipe(tmp_path, fake_stages):
    path = write_recipe(tmp_path, "stages:\n  a: {stage: nosuch}\n")
    with pytest.raises(AlignError, match="unknown stage type 'nosuch'"):
        load_recipe(str(path))
    with pytest.raises(AlignError, match="unknown recipe 'nope'"):
        load_recipe("nope")


def test_repeat_block_expands_per_iteration(tmp_path, fake_stages):
    path = write_recipe(
        tmp_path,
        """
seed: 0
stages:
  loop:
    repeat: 3
    initial: {gen.text: /dev/null}
    stages:
      gen: {stage: echo, value: g, source: "${prev.gen.text}"}
      train: {stage: echo, value: t, source: "${gen.text}"}
""",
    )
    recipe = load_recipe(str(path))
    assert [s.name for s in recipe.stages] == ["it1-gen", "it1-train", "it2-gen", "it2-train", "it3-gen", "it3-train"]
    assert recipe.stages[2].aliases["prev"]["gen"] == "it1-gen"
    assert recipe.stages[0].aliases["prev"] is None


def test_bad_repeat_count(tmp_path, fake_stages):
    path = write_recipe(tmp_path, "stages:\n  loop: {repeat: 0, stages: {a: {stage: echo}}}\n")
    with pytest.raises(AlignError, match="positive integer"):
        load_recipe(str(path))


SHIPPED = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


@pytest.mark.parametrize("smoke", [False, True])
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_recipe_validates_and_refers_only_to_earlier_stages(name, smoke):
    """Each recipe loads (every stage config valid), names its stages uniquely, and every `${stage.output}` it
    leaves for run time names a stage that runs before it (or its loop's previous iteration)."""
    recipe = load_recipe(name, smoke=smoke)
    assert recipe.description and recipe.stages
    names = [plan.name for plan in recipe.stages]
    assert len(set(names)) == len(names)
    blocks = {plan.block for plan in recipe.stages if plan.block}
    for index, plan in enumerate(recipe.stages):
        earlier = set(names[:index])
        for ref in REF.findall(json.dumps(plan.config)):
            head = ref.split(".")[0]
            alias = plan.aliases.get(head)
            target = alias if isinstance(alias, str) else head
            ok = target in earlier or head in blocks or (head == "prev" and plan.block)
            assert ok, f"{name}: stage {plan.name!r} refers to ${{{ref}}}, which no earlier stage produces"
    if smoke:  # smoke runs are small: every stage that samples, evaluates or trains is cut down
        full = {plan.name: plan.config for plan in load_recipe(name).stages}
        assert any(plan.config != full[plan.name] for plan in recipe.stages)


def test_a_recipe_extends_another(tmp_path, fake_stages):
    write_recipe(tmp_path, RECIPE, name="parent.yaml")
    path = write_recipe(
        tmp_path,
        """extends: parent.yaml
greeting: child
stages:
  second: null
  third: {stage: echo, value: '${greeting}'}
smoke: {stages.third.value: tiny}
""",
        name="child.yaml",
    )
    recipe = load_recipe(str(path))
    assert recipe.name == "child"
    assert [s.name for s in recipe.stages] == ["first", "third"]  # second dropped, third appended
    assert recipe.stages[0].config["value"] == recipe.stages[1].config["value"] == "child"
    assert load_recipe(str(path), smoke=True).stages[1].config["value"] == "tiny"
    loop = write_recipe(tmp_path, "extends: loop.yaml\nstages: {a: {stage: echo}}\n", name="loop.yaml")
    with pytest.raises(AlignError, match="leads back to a recipe already in the chain"):
        load_recipe(str(loop))
    missing = write_recipe(tmp_path, "extends: nosuch\nstages: {a: {stage: echo}}\n", name="orphan.yaml")
    with pytest.raises(AlignError, match="unknown recipe 'nosuch'"):
        load_recipe(str(missing))


def test_a_stage_set_to_null_on_the_command_line_is_dropped():
    """`stages.NAME=null` drops a stage (inside a repeat block too), as `name: null` does under `extends`; a later
    stage that still refers to it is an error naming the reference."""
    recipe = load_recipe("sft", ["stages.eval_base=null", "stages.eval_sft.baseline=null"])
    assert [p.name for p in recipe.stages] == ["sft", "eval_sft"]
    recipe = load_recipe("rest-em", ["stages.rest.stages.eval=null", "stages.best=null"])
    assert [p.name for p in recipe.stages][:5] == ["eval_base", "it1-sample", "it1-score", "it1-select", "it1-sft"]
    assert not any(p.name.endswith("-eval") for p in recipe.stages)
    with pytest.raises(AlignError, match=r"\$\{eval_base.data\}, which is not a recipe key or stage"):
        load_recipe("sft", ["stages.eval_base=null"])


@pytest.mark.parametrize("where", ["extends", "command line", "command line, repeat block"])
def test_dropping_a_stage_that_does_not_exist_is_an_error_wherever_it_is_written(tmp_path, fake_stages, where):
    """Issue 28, finding 13: `stages: {nosuchstage: null}` under `extends:` was ignored, leaving the stage it meant
    to drop running. One rule and one message for both spellings."""
    if where == "extends":
        write_recipe(tmp_path, RECIPE, name="parent.yaml")
        path = write_recipe(tmp_path, "extends: parent.yaml\nstages:\n  secnod: null\n", name="child.yaml")
        args = (str(path),)
    elif where == "command line":
        args = ("sft", ["stages.eval_sftt=null"])
    else:
        args = ("rest-em", ["stages.rest.stages.evl=null"])
    with pytest.raises(
        AlignError, match=r"cannot drop stage '(secnod|eval_sftt|evl)': there is no such stage \(stages:"
    ):
        load_recipe(*args)


def test_python_override_values_are_taken_as_they_are(tmp_path, fake_stages):
    """Issue 28, finding 14: a dict of overrides from Python is not YAML text: a path with ` #` keeps its tail and
    "yes" stays a string; "key=value" strings (the command line's form) are still YAML."""
    from align.engine.recipe import build_recipe

    path = write_recipe(tmp_path, RECIPE)
    odd = "/p/sp ace/x #1.jsonl"
    recipe = build_recipe(path, [("stages.first.value", odd), ("greeting", "yes")], smoke=False)
    assert recipe.stages[0].config["value"] == odd
    assert build_recipe(path, [("stages.second.value", "yes")], smoke=False).stages[1].config["value"] == "yes"
    with pytest.raises(AlignError, match=r"key 'value': Input should be a valid string \(got True\)"):
        build_recipe(path, ["stages.second.value=yes"], smoke=False)  # YAML reads "yes" as true


def test_a_reference_to_an_output_its_stage_cannot_produce_fails_before_the_run(tmp_path):
    """Issue 28, finding 12: `${a.model}` where `a` makes no model failed only after the earlier stages ran."""
    from align.engine.runner import Engine

    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"x": i}) + "\n" for i in range(4)))
    path = write_recipe(
        tmp_path,
        f"""tracking: none
stages:
  a: {{stage: split, data: {tmp_path}/d.jsonl, parts: {{head: 2, rest: null}}}}
  b: {{stage: evaluate, model: '${{a.model}}'}}
""",
    )
    with pytest.raises(AlignError, match=r"stage 'b' refers to \$\{a.model\}, but stage 'a' \(split\) has no output"):
        Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert not (tmp_path / "run" / "a" / "DONE").exists()
