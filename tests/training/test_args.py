"""`trainer:` fields reach the TRL config align builds (and align's own keys cannot be overridden there)."""

import pytest

from align.errors import AlignError
from align.stages import dpo, sft

pytestmark = pytest.mark.slow


def test_trainer_fields_reach_the_trl_config(tmp_path):
    config = sft.Config(model="world:base", data="world:sft", trainer={"max_grad_norm": 0.25, "optim": "adafactor"})
    args = config.trainer_args(tmp_path, 0)
    assert args.max_grad_norm == 0.25 and args.optim == "adafactor"
    ld = dpo.Config(model="world:base", data="x", trainer={"ld_alpha": 0.5})  # TRL 1.16 has no rpo_alpha
    assert ld.trainer_args(tmp_path, 0).ld_alpha == 0.5
    with pytest.raises(AlignError, match=r"no field\(s\) \['max_grad_nrm'\]"):
        sft.check(sft.Config(model="world:base", data="world:sft", trainer={"max_grad_nrm": 1}))
    with pytest.raises(AlignError, match="trainer.learning_rate: set `learning_rate` in the stage"):
        sft.check(sft.Config(model="world:base", data="world:sft", trainer={"learning_rate": 1}))
    with pytest.raises(AlignError, match="trainer.beta: set `beta`"):
        dpo.check(dpo.Config(model="world:base", data="x", trainer={"beta": 1}))
