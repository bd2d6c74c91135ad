"""`align recipes --show NAME` and `--stage TYPE`: a recipe's parameters and each stage's keys, documented from the
schemas the recipe is validated against."""

import pytest
from rich.console import Console
from typer.testing import CliRunner

from align.cli import app
from align.engine.explain import field_rows, parameter_comments, recipe_tables, stage_table
from align.engine.recipe import load_recipe
from align.engine.recipe_files import RECIPES_DIR, find_recipe
from align.stages import sft

SHIPPED = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def rendered(tables) -> str:
    console = Console(width=400, record=True)
    for table in tables:
        console.print(table)
    return console.export_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_show_lists_every_parameter_and_every_stage(name):
    text = rendered(recipe_tables(name))
    recipe = load_recipe(name)
    for plan in recipe.stages:
        label = f"{plan.block}.{plan.inner}" if plan.block else plan.name
        assert f"stage `{label}` ({plan.type})" in text
        for key in plan.raw:
            assert f"│ {key} " in text
    for key, comment in parameter_comments(find_recipe(name)).items():
        assert key in text and comment in text


def test_show_gives_a_parameter_its_comment_and_a_key_its_meaning():
    text = rendered(recipe_tables("rest-em"))
    assert "│ cap " in text and "max kept correct solutions per problem (paper: 10)" in text
    assert "│ data.train " in text and "world:arith_train" in text
    assert "stage `rest.sft` (sft)" in text and "passes over the data" in text


def test_stage_lists_every_field_with_its_default_and_meaning():
    rows = {key: (default, meaning) for key, default, meaning in field_rows(sft.Config)}
    assert rows["learning_rate"] == ("0.0002", "peak learning rate")
    assert rows["model"][0] == "(required)" and rows["lora.r"][0] == "16"  # a nested config by its own fields
    text = rendered([stage_table("sft")])
    assert all(f"│ {key} " in text for key in rows)


def test_the_cli_documents_or_says_what_is_unknown():
    runner = CliRunner()
    assert runner.invoke(app, ["recipes", "--stage", "dpo"]).exit_code == 0
    assert runner.invoke(app, ["recipes", "--show", "kd"]).exit_code == 0
    bad = runner.invoke(app, ["recipes", "--stage", "teleport"])
    assert bad.exit_code == 2 and "unknown stage type 'teleport'" in bad.output
    assert "unknown recipe 'nope'" in runner.invoke(app, ["recipes", "--show", "nope"]).output
