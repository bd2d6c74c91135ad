import pytest

from align.engine.recipe import load_recipe, parse_override
from align.errors import AlignError
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


def test_shipped_recipes_validate():
    for name in ("sft", "eval"):
        recipe = load_recipe(name, smoke=True)
        assert recipe.stages


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
