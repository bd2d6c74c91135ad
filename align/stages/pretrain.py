"""`pretrain`: causal-LM training on raw text or chat rows, continuing a model or from scratch.

Start from `model` (continue training it), or from `init`: a `transformers` config (a mapping such as
`{model_type: llama, hidden_size: 64, num_hidden_layers: 2, ...}` or a config JSON file / model dir whose config
is taken, weights not) plus `tokenizer`, giving a freshly initialised model (seeded by the stage seed; vocabulary
size and special token ids from the tokenizer). Data: `text` rows (loss on every token) or `messages` /
`prompt`+`completion` rows (loss on the completion, as `sft`). Training goes through the same glue as `sft`
(TRL's SFTTrainer: resume, `processes`, `deepspeed`, LoRA when continuing a model). The budget is `epochs`,
`max_steps` or `max_tokens` (pre-training's unit: filters that keep rows of different lengths are compared at
the same tokens).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from align.loading.datasets import load_dataset
from align.loading.models import load_tokenizer, locate_model
from align.refs import deferred
from align.stages import trainer
from align.stages.base import StageContext, StageResult
from align.stages.config import TrainingConfig, dataset_field, model_field, tokenizer_field
from align.stages.sft import build_trainer, sft_args


class Config(TrainingConfig):
    model: str | None = model_field("model to continue training (or give `init` and `tokenizer`)", None)
    init: dict[str, Any] | str | None = Field(
        None, description="from scratch: a transformers config mapping, a config JSON file or a model dir (config only)"
    )
    tokenizer: str | None = tokenizer_field(
        "from scratch: the tokenizer (a model or tokenizer dir, world:tokenizer)", None
    )
    data: str = dataset_field("lm", "`text` rows, or messages / prompt+completion rows", read_by=("model", "tokenizer"))
    learning_rate: float = Field(5e-4, gt=0, description="peak learning rate")
    max_tokens: int | None = Field(
        None,
        ge=1,
        description="train on about this many input tokens (prompt "
        "included, padding not): the steps follow from the rows' mean length, so "
        "students on data of different lengths see the same tokens",
    )

    @model_validator(mode="after")
    def one_start(self):
        if (self.model is None) == (self.init is None):
            raise ValueError("give exactly one of `model` (continue training) and `init` (from scratch)")
        if self.init is not None and not self.tokenizer:
            raise ValueError("`init` (from scratch) needs `tokenizer`")
        if self.init is not None and self.lora:
            raise ValueError("LoRA adapts a trained model: it does not apply to `init` (from scratch)")
        if self.max_tokens is not None and self.max_steps > 0:
            raise ValueError("give one training budget: `max_tokens` or `max_steps`")
        return self

    def trainer_args(self, output_dir: Path, seed: int, assistant_only: bool = False):
        return sft_args(self, output_dir, seed, assistant_only)


def model_config(init, tokenizer):
    """The transformers config to initialise from, with the tokenizer's vocabulary and special tokens. One that
    transformers rejects (a hidden size its heads do not divide, a negative size) is one line naming `init`."""
    try:
        return build_config(init, tokenizer)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"`init` is not a config transformers accepts: {rejection(exc)}") from None


def rejection(exc: BaseException) -> str:
    """The innermost reason transformers gives (its validation errors wrap the one that says what is wrong)."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def build_config(init, tokenizer):
    from transformers import AutoConfig

    if isinstance(init, dict):
        settings = dict(init)
        if "model_type" not in settings:
            raise ValueError("`init` needs `model_type` (e.g. llama)")
        config = AutoConfig.for_model(settings.pop("model_type"), **settings)
    else:
        path = Path(init)
        if path.is_file():
            settings = json.loads(path.read_text())
            config = AutoConfig.for_model(settings.pop("model_type"), **settings)
        else:
            config = AutoConfig.from_pretrained(locate_model(str(init)))
    config.vocab_size = len(tokenizer)
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if getattr(tokenizer, name, None) is not None:
            setattr(config, name, getattr(tokenizer, name))
    return config


def check(config: Config) -> None:
    """The `trainer:` fields make a valid SFTConfig; an `init` config builds."""
    trainer.check(config)
    if config.init is not None and config.tokenizer and not deferred(config.tokenizer):
        import torch

        with torch.device("meta"):  # the shapes, without memory: a bad size fails before the run
            fresh_model(model_config(config.init, load_tokenizer(config.tokenizer)))


def load_start(config: Config, ctx: StageContext):
    """`model` to continue training, or a fresh model from `init` (seeded by the stage seed)."""
    if config.model is not None:
        return trainer.load_policy(config, ctx)
    import torch

    tokenizer = load_tokenizer(config.tokenizer, padding_side="right")
    torch.manual_seed(ctx.seed)
    return fresh_model(model_config(config.init, tokenizer)), tokenizer


def fresh_model(settings):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_config(settings)
    except Exception as exc:
        raise ValueError(f"`init` builds no model: {rejection(exc)}") from None


def run(config: Config, ctx: StageContext) -> StageResult:
    rows = load_dataset(config.data, "lm", limit=config.limit)
    return trainer.train(
        config,
        ctx,
        rows,
        lambda model, tokenizer, fit: build_trainer(config, ctx, fit, model, tokenizer, "pretrain", config.max_tokens),
        load=load_start,
        after=lambda t: {"train/parameters": sum(p.numel() for p in t.model.parameters())},
    )


outputs = trainer.outputs
