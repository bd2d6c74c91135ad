"""Models by name: any HF causal LM (a local dir, `world:<name>` or a hub id) and its tokenizer, ready for batching."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from align.errors import AlignError
from align.loading.names import locate

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def locate_model(spec: str) -> str:
    """A local model dir, or a hub id (`align.loading.names`: a path that does not exist is an error, not a hub
    lookup)."""
    path = locate(spec, "model dir")
    if isinstance(path, Path) and not (path / "config.json").exists():
        raise AlignError(f"model dir {spec} has no config.json: not a Hugging Face model dir")
    return locate_tokenizer(spec, "model dir")


def locate_tokenizer(spec: str, what: str = "tokenizer dir") -> str:
    """A local dir with a tokenizer (a model dir, or a tokenizer alone such as `world:tokenizer`), or a hub id."""
    path = locate(spec, what)
    if isinstance(path, Path):
        if not any((path / name).exists() for name in TOKENIZER_FILES):
            raise AlignError(
                f"{what} {spec} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}): "
                f"save it with the model (`tokenizer.save_pretrained(dir)`)"
            )
        return str(path)
    return path  # a hub id such as Qwen/Qwen2.5-0.5B


def check_weights(spec: str) -> None:
    """Read the header of every safetensors file of a local model (cheap): a corrupt or truncated file fails
    here, before the run, instead of when a late stage loads it."""
    path = Path(locate_model(spec))
    if not path.is_dir():
        return  # a hub id
    from safetensors import safe_open

    for weights in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(str(weights), framework="pt") as f:
                f.keys()
        except Exception as exc:
            raise AlignError(f"{weights}: not a readable safetensors file ({exc})") from None


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":  # under torchrun, each process takes the GPU of its local rank
        return (
            torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            if torch.cuda.is_available()
            else torch.device("cpu")
        )
    return torch.device(device)


def pick_dtype(dtype: str = "auto", device: torch.device | None = None) -> torch.dtype:
    """bf16 on GPUs that support it, fp32 on CPU (the world's fp16 weights are upcast)."""
    if dtype != "auto":
        return getattr(torch, dtype)
    device = device or pick_device()
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def load_tokenizer(spec: str, padding_side: str = "left"):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(locate_tokenizer(spec))
    except OSError as exc:
        raise AlignError(f"cannot load tokenizer for {spec!r}: {exc}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    return tokenizer


def load_causal_lm(spec: str, dtype: str = "auto", device: str = "auto"):
    from transformers import AutoModelForCausalLM

    target = pick_device(device)
    try:
        model = AutoModelForCausalLM.from_pretrained(locate_model(spec), dtype=pick_dtype(dtype, target))
    except Exception as exc:
        raise AlignError(f"cannot load causal LM from {spec!r}: {type(exc).__name__}: {exc}") from None
    return model.to(target)


@functools.cache
def world_vocabulary() -> dict[str, int]:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(locate_tokenizer("world:tokenizer")).get_vocab()


def is_world_model(spec: str) -> bool:
    """Whether the model reads the world's tokenizer (a `world:` model or one trained from it): the world's sets
    and gold judge test only such models."""
    return spec.startswith("world:") or load_tokenizer(spec).get_vocab() == world_vocabulary()
