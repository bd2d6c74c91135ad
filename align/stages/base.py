"""What every stage config shares: strict keys, and the training knobs common to all trainers."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field


class StageConfig(BaseModel):
    """Unknown keys are errors, so a typo in a recipe fails before anything runs."""
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class LoraSettings(StageConfig):
    r: int = Field(16, description="LoRA rank")
    alpha: int = Field(32, description="LoRA scaling (lora_alpha)")
    dropout: float = Field(0.05, description="dropout on the LoRA branch")
    target_modules: list[str] | str = Field("all-linear", description="modules to adapt")


class TrainingConfig(StageConfig):
    """Knobs every TRL trainer takes; each training stage adds its method's own."""
    model: str = Field(description="model to train: HF dir, hub id or world:<name>")
    epochs: float = Field(1.0, description="passes over the data (ignored when max_steps > 0)")
    max_steps: int = Field(-1, description="optimizer steps; -1 = derive from epochs")
    learning_rate: float = Field(1e-4, gt=0)
    batch_size: int = Field(8, ge=1, description="per-device batch size")
    grad_accum: int = Field(1, ge=1, description="gradient accumulation steps")
    warmup: float = Field(0.0, ge=0, description="warmup steps, or a fraction of all steps if < 1")
    lr_scheduler: str = Field("cosine", description="transformers scheduler name")
    weight_decay: float = Field(0.0, ge=0)
    max_length: int = Field(512, ge=8, description="tokens per sequence; longer ones are truncated")
    save_steps: int = Field(50, ge=1, description="checkpoint interval: a killed stage resumes from here")
    logging_steps: int = Field(10, ge=1)
    limit: Optional[int] = Field(None, ge=1, description="use only the first N rows (smoke runs)")
    lora: Optional[LoraSettings] = Field(None, description="train LoRA adapters instead of all weights")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    deepspeed: Optional[str] = Field(None, description="DeepSpeed JSON config (e.g. configs/zero2.json)")
    processes: int = Field(1, ge=1, description="training processes: >1 runs the stage under torchrun "
                                                 "(DDP; gloo on CPU, NCCL on GPU)")

    def peft(self):
        """A peft LoRA config when `lora` is set, else None (full fine-tuning)."""
        from align.models import lora_config

        return lora_config(**self.lora.model_dump()) if self.lora else None

    def trainer_kwargs(self) -> dict:
        return dict(learning_rate=self.learning_rate, epochs=self.epochs, max_steps=self.max_steps,
                    batch_size=self.batch_size, grad_accum=self.grad_accum, warmup_ratio=self.warmup,
                    lr_scheduler=self.lr_scheduler, weight_decay=self.weight_decay,
                    save_steps=self.save_steps, logging_steps=self.logging_steps, deepspeed=self.deepspeed)
