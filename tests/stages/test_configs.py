"""Every stage is documented and tested: each config field says what it means (as TRL's config dataclasses do),
each scorer option too, and every registered stage type has its own test file here."""

from pathlib import Path

import pytest
from pydantic import BaseModel

import rewards
from align.engine.explain import field_rows
from align.stages import STAGES, stage_module


def undocumented(config: type[BaseModel]) -> list[str]:
    return [key for key, _, meaning in field_rows(config) if not meaning.strip()]


@pytest.mark.parametrize("stage_type", sorted(STAGES))
def test_every_field_of_every_stage_is_documented(stage_type):
    assert undocumented(stage_module(stage_type).Config) == []


@pytest.mark.parametrize("scorer", sorted(rewards.BUILTIN))
def test_every_scorer_option_is_documented(scorer):
    assert undocumented(rewards.BUILTIN[scorer].options) == []


def test_an_undocumented_field_is_caught():
    from pydantic import Field

    from align.stages.config import StageConfig

    class Sloppy(StageConfig):
        documented: int = Field(1, description="says what it is")
        bare: int = 2

    assert undocumented(Sloppy) == ["bare"]


def test_every_stage_type_has_its_own_test_file():
    here = Path(__file__).parent
    assert sorted(t for t in STAGES if not (here / f"test_{t}.py").exists()) == []


def test_input_names_cover_a_scorers_model():
    """What the engine fingerprints: the dataset, model and tokenizer fields, and a reward model inside a scorer."""
    from align.stages import stage_module
    from align.stages.config import input_names

    evaluate = stage_module("evaluate")
    config = evaluate.Config(model="mine", scorers={"rm": {"name": "reward_model", "model": "myrm"}})
    assert {"mine", "myrm", "world:arith_test"} <= set(input_names(config))
