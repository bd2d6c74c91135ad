"""The training skeleton every training stage shares: a new training stage is its config, its trainer and one
call; the skeleton loads, digests the start weights, trains with resume, saves and returns the result."""

from pathlib import Path

import pytest
from pydantic import Field

from align.data.jsonl import write_jsonl
from align.engine.recipe import load_recipe
from align.engine.runner import Engine
from align.errors import AlignError
from align.loading.datasets import load_dataset
from align.loading.digests import weights_digest
from align.loading.models import load_causal_lm
from align.stages import STAGES, trainer
from align.stages.config import TrainingConfig, dataset_field
from align.training.args import trainer_config
from align.training.callbacks import callbacks
from tests.conftest import write_recipe

pytestmark = pytest.mark.slow


class ToyConfig(TrainingConfig):
    """A plain causal-LM trainer on `text` rows: the smallest training stage."""

    data: str = dataset_field("lm", "`text` rows")
    learning_rate: float = Field(1e-3, gt=0, description="peak learning rate")

    def trainer_args(self, output_dir: Path, seed: int):
        from transformers import TrainingArguments

        return trainer_config(TrainingArguments, output_dir, seed, self)


def run_toy(config: ToyConfig, ctx):
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer

    rows = load_dataset(config.data, "lm")

    def build(model, tokenizer, rows):
        data = Dataset.from_list([dict(tokenizer(r["text"])) for r in rows])
        return Trainer(
            model=model,
            args=config.trainer_args(ctx.work_dir / "checkpoints", ctx.seed),
            train_dataset=data,
            data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
            callbacks=callbacks(ctx.log, "toy"),
        )

    return trainer.train(config, ctx, rows, build)


toy = type("ToyStage", (), {"Config": ToyConfig, "run": staticmethod(run_toy), "check": staticmethod(trainer.check)})


def test_a_toy_training_stage_is_a_config_a_trainer_and_one_call(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES, "toy", toy)
    write_jsonl(tmp_path / "text.jsonl", [{"text": f"{a}+{a}={2 * a}"} for a in range(16)])
    path = write_recipe(
        tmp_path,
        f"tracking: none\nstages:\n  t: {{stage: toy, model: world:base, "
        f"data: {tmp_path}/text.jsonl, max_steps: 3, batch_size: 4, save_steps: 2}}\n",
    )
    summary = Engine(load_recipe(str(path)), tmp_path / "run").run()[0]
    assert summary["metrics"]["train/steps"] == 3 and summary["metrics"]["train/examples"] == 16
    trained = load_causal_lm(str(tmp_path / "run" / "t" / "model"), dtype="float32", device="cpu")
    base = weights_digest(load_causal_lm("world:base", dtype="float32", device="cpu"))
    assert summary["values"]["start_weights"] == base != weights_digest(trained)  # started from the base, trained
    assert summary["key_metrics"] == ["train/loss"]


def test_the_skeleton_checks_a_stages_trainer_fields_before_the_run(tmp_path, monkeypatch):
    monkeypatch.setitem(STAGES, "toy", toy)
    path = write_recipe(
        tmp_path,
        "tracking: none\nstages:\n  t: {stage: toy, model: world:base, data: world:corpus, "
        "trainer: {max_grad_nrm: 1}}\n",
    )
    with pytest.raises(AlignError, match=r"stage 't': trainer: TrainingArguments has no field\(s\) \['max_grad_nrm'\]"):
        Engine(load_recipe(str(path)), tmp_path / "run").run()
    assert not (tmp_path / "run").exists()


def test_every_training_stage_runs_the_skeleton():
    """Each training stage's `run` goes through `trainer.train` (its source calls it), and its check is the
    skeleton's (or calls it)."""
    import inspect

    from align.stages import stage_module

    for name in ("sft", "pretrain", "dpo", "distill", "reward"):
        module = stage_module(name)
        assert issubclass(module.Config, TrainingConfig), name
        assert "trainer.train(" in inspect.getsource(module.run) or "fine_tune(" in inspect.getsource(module.run)
        assert module.check is trainer.check or "trainer.check(config)" in inspect.getsource(module.check), name
