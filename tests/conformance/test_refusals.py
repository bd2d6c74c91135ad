"""A user's model and data that cannot work together are refused before the run: one error naming the stage, key,
dataset, record and model, and nothing written."""

import pytest

from align.api import run
from align.errors import AlignError
from tests.conformance.user_data import write_user_files


@pytest.mark.parametrize(
    "family, message",
    [
        # Gemma's template has no system role and says so; the user's SFT demos open with a system turn
        (
            "gemma",
            r"stage 'sft', key 'data' \(= \$\{data.sft\}\): .*sft.parquet: record 1: the chat template of model "
            r"'.*gemma' cannot render it \(TemplateError: System role not supported\)",
        ),
        ("gpt2", r"sft.parquet holds chat messages, but model '.*gpt2' has no chat template"),
    ],
)
def test_chat_rows_a_models_template_cannot_render_are_refused_before_the_run(family, message, family_dir, tmp_path):
    files = write_user_files(tmp_path / "data")
    model = str(family_dir(family))
    args = [f"model={model}", f"data.sft={files['sft']}", "stages.eval_base=null", "stages.eval_sft=null"]
    with pytest.raises(AlignError, match=message):
        run("sft", [*args, "tracking=none"], tmp_path / "run", smoke=True)
    assert not (tmp_path / "run").exists()
