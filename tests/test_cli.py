"""The command line's own commands: listing and documenting recipes, the version, `show` on a non-run."""

from typer.testing import CliRunner

from align.cli import app

runner = CliRunner()


def test_recipes_and_version():
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0 and "sft" in result.output and "eval" in result.output
    assert runner.invoke(app, ["--version"]).output.startswith("align ")


def test_show_on_a_non_run(tmp_path):
    result = runner.invoke(app, ["show", str(tmp_path)])
    assert result.exit_code != 0 and "not a run dir" in result.output
