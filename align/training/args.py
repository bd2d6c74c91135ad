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
    "use_vllm": "backend",  # online RL's generation backend
    "report_to": None,
    "disable_tqdm": None,
    "save_strategy": None,
}


def hardware_defaults() -> dict:
    """What align sets on any hardware (a `trainer:` field may override these): bf16 where the GPU supports it,
    the CPU otherwise, no gradient checkpointing, one checkpoint kept, our own logs and progress bar."""
    cuda = torch.cuda.is_available()
    return dict(
        save_strategy="steps",
        save_total_limit=1,
        report_to="none",
        disable_tqdm=True,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        use_cpu=not cuda,
        gradient_checkpointing=False,
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
    )


def user_fields(extra: dict | None, method_args: dict) -> dict:
    """The `trainer:` fields, refused where align sets the field from its own keys (naming the key to use)."""
    for key in extra or {}:
        if key in OWNED or key in method_args:
            owner = OWNED.get(key) or (key if key in method_args else None)
            hint = f"set `{owner}` in the stage instead" if owner else "align sets it"
            raise AlignError(f"trainer.{key}: {hint}")
    return dict(extra or {})


def trainer_config(config_cls, output_dir: Path, seed: int, knobs, **method_args):
    """A TRL/transformers `*Config` with the defaults this toolkit wants on any hardware, the stage's `knobs` (a
    training stage's config: learning rate, epochs or steps, batch, schedule, checkpoint and log intervals,
    DeepSpeed, the user's `trainer:` fields), and the method's own fields.

    `trainer:` may override the hardware defaults (bf16, gradient_checkpointing, save_total_limit, ...) but not what
    align sets from its own keys; an unknown field is an AlignError naming it."""
    kwargs = {
        "output_dir": str(output_dir),
        "seed": seed,
        "data_seed": seed,
        "learning_rate": knobs.learning_rate,
        "num_train_epochs": knobs.epochs,
        "max_steps": knobs.max_steps,
        "warmup_steps": knobs.warmup,
        "per_device_train_batch_size": knobs.batch_size,
        "gradient_accumulation_steps": knobs.grad_accum,
        "lr_scheduler_type": knobs.lr_scheduler,
        "weight_decay": knobs.weight_decay,
        "logging_steps": knobs.logging_steps,
        "save_steps": knobs.save_steps,
        "deepspeed": deepspeed_config(knobs.deepspeed) if knobs.deepspeed else None,
    }
    kwargs.update(hardware_defaults(), **method_args)
    kwargs.update(user_fields(knobs.trainer, method_args))
    try:
        return config_cls(**kwargs)
    except TypeError as exc:  # an unknown field
        unknown = sorted(set(knobs.trainer) - set(config_cls.__dataclass_fields__))
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
