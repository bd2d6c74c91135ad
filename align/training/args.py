"""TRL/transformers trainer configs built once, with the defaults align wants on any hardware.

TRL's configs default to bf16 and gradient checkpointing, which fail or crawl on CPU; every training stage builds
its config here so those choices are made once, and a user's `trainer:` fields are checked against them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from align.errors import AlignError

DEEPSPEED_CONFIGS = Path(__file__).resolve().parent / "deepspeed_configs"  # zero2.json, zero3.json


# Fields align sets from its own config keys: a `trainer:` mapping may not set them (name the align key instead).
OWNED = {
    "output_dir": None,
    "seed": "seed",
    "data_seed": "seed",
    "learning_rate": "learning_rate",
    "num_train_epochs": "epochs",
    "max_steps": "max_steps",
    "per_device_train_batch_size": "batch_size",
    "gradient_accumulation_steps": "grad_accum",
    "warmup_steps": "warmup",
    "lr_scheduler_type": "lr_scheduler",
    "weight_decay": "weight_decay",
    "logging_steps": "logging_steps",
    "save_steps": "save_steps",
    "deepspeed": "deepspeed",
    "report_to": None,
    "disable_tqdm": None,
    "save_strategy": None,
}


def trainer_config(
    config_cls,
    output_dir: Path,
    *,
    seed: int,
    learning_rate: float,
    epochs: float,
    batch_size: int,
    max_steps: int = -1,
    grad_accum: int = 1,
    save_steps: int = 50,
    warmup_ratio: float = 0.0,
    lr_scheduler: str = "cosine",
    weight_decay: float = 0.0,
    logging_steps: int = 10,
    deepspeed: str | None = None,
    extra: dict | None = None,
    **method_args,
):
    """A TRL `*Config` with the defaults this toolkit wants on any hardware, plus the user's `trainer:` fields.

    `extra` may override the hardware defaults below (bf16, gradient_checkpointing, save_total_limit, ...) but
    not what align sets from its own keys; an unknown field is an AlignError naming it."""
    cuda = torch.cuda.is_available()
    kwargs = dict(
        output_dir=str(output_dir),
        seed=seed,
        data_seed=seed,
        learning_rate=learning_rate,
        num_train_epochs=epochs,
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=grad_accum,
        warmup_steps=warmup_ratio,
        lr_scheduler_type=lr_scheduler,
        weight_decay=weight_decay,
        logging_steps=logging_steps,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=1,
        report_to="none",
        disable_tqdm=True,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        gradient_checkpointing=False,
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
        deepspeed=deepspeed,
        **method_args,
    )
    for key, value in (extra or {}).items():
        if key in OWNED or key in method_args:
            owner = OWNED.get(key) or (key if key in method_args else None)
            hint = f"set `{owner}` in the stage instead" if owner else "align sets it"
            raise AlignError(f"trainer.{key}: {hint}")
        kwargs[key] = value
    try:
        return config_cls(**kwargs)
    except TypeError as exc:  # an unknown field
        unknown = sorted(set(extra or {}) - set(config_cls.__dataclass_fields__))
        raise AlignError(
            f"trainer: {config_cls.__name__} has no field(s) {unknown}" if unknown else f"{config_cls.__name__}: {exc}"
        ) from None
    except ValueError as exc:  # a field of the right name with a bad value
        raise AlignError(f"{config_cls.__name__}: {exc}") from None


def lora_config(r: int, alpha: int, dropout: float, target_modules: list[str] | str):
    """A peft LoRA config for a causal LM; `target_modules="all-linear"` adapts every linear layer."""
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, task_type="CAUSAL_LM")


def deepspeed_config(value: str) -> str:
    """`zero2` / `zero3` name the configs shipped in align/training/deepspeed_configs; anything else is a path."""
    if value in ("zero2", "zero3"):
        return str(DEEPSPEED_CONFIGS / f"{value}.json")
    return value
