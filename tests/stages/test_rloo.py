"""The `rloo` stage: TRL's RLOOTrainer on the same reward glue as `grpo`."""

import pytest

from align.stages import stage_module
from tests.stages.test_grpo import check_rewards_match

pytestmark = pytest.mark.slow


def test_the_rewards_trl_receives_are_aligns_scorers_on_the_same_completions_weights_applied(tmp_path):
    check_rewards_match(tmp_path, "rloo")


def test_rloo_keeps_trls_kl_default_and_the_shared_group_check():
    rloo = stage_module("rloo")
    assert rloo.Config(model="m", data="d").beta == 0.05  # TRL's RLOO default; GRPO's is 0
    with pytest.raises(ValueError, match="num_generations=8 does not divide"):
        rloo.Config(model="m", data="d", batch_size=12)
