"""How a stage's config is declared: unknown keys are refused, inputs are marked so the engine checks them before
the run, and every field says what it means (`align recipes --stage TYPE` prints them; a test insists).

Inputs are declared on the config's fields (`dataset_field`, `model_field`, `tokenizer_field`, `scorer_field`): the
engine checks every declared input of every stage before the first stage runs, deferring only `${stage.output}`
values.
`TrainingConfig` holds the knobs every trainer takes; each training stage adds its method's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from align.training.args import deepspeed_config, lora_config

# A scorer: a built-in name (`math`), a `module:function` path, or `{name: ..., option: value}`.
ScorerSpec = str | dict[str, Any]


def dataset_field(kind: str, description: str, default=..., read_by: tuple[str, ...] = (), **kwargs):
    """A config field naming a dataset of `kind` (see `align.data.formats.FORMATS`); checked before the run starts.
    `read_by`: the config fields naming the models that tokenise its rows (chat rows need their chat template)."""
    extra = {"input": "dataset", "kind": kind, "read_by": list(read_by)}
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


def model_field(description: str, default=..., **kwargs):
    """A config field naming a model (HF dir, hub id, world:<name>); checked before the run starts."""
    return Field(default, description=description, json_schema_extra={"input": "model"}, **kwargs)


def tokenizer_field(description: str, default=..., **kwargs):
    """A config field naming a tokenizer (a model dir, a tokenizer dir, a hub id, world:tokenizer); checked before
    the run starts."""
    return Field(default, description=description, json_schema_extra={"input": "tokenizer"}, **kwargs)


def scorer_field(description: str, default=..., many: bool = False, **kwargs):
    """A config field holding a scorer spec (`many`: a mapping label -> spec); checked before the run starts."""
    return Field(default, description=description, json_schema_extra={"input": "scorer", "many": many}, **kwargs)


def declared_inputs(config: BaseModel) -> list[tuple[str, dict, Any]]:
    """(field name, marker, value) for every field declared as an input."""
    out = []
    for name, info in type(config).model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "input" in extra:
            out.append((name, extra, getattr(config, name)))
    return out


def input_names(config: BaseModel) -> list:
    """The names a stage reads models and data from: its dataset, model and tokenizer fields, and the `model` of
    any scorer spec (a reward model dir). The engine fingerprints the local ones."""

    def models(spec) -> list:
        if isinstance(spec, dict):
            own = [spec["model"]] if isinstance(spec.get("model"), str) else []
            return own + [m for value in spec.values() for m in models(value)]
        return []

    return [
        name
        for _, marker, value in declared_inputs(config)
        for name in (models(value) if marker["input"] == "scorer" else [value])
    ]


class StageConfig(BaseModel):
    """Unknown keys are errors, so a typo in a recipe fails before anything runs."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class LoraSettings(StageConfig):
    r: int = Field(16, description="LoRA rank")
    alpha: int = Field(32, description="LoRA scaling (lora_alpha)")
    dropout: float = Field(0.05, description="dropout on the LoRA branch")
    target_modules: list[str] | str = Field("all-linear", description="modules to adapt")


# transformers' SchedulerType values, so a typo fails at load time instead of at trainer construction.
Scheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
    "cosine_with_min_lr",
    "cosine_warmup_with_min_lr",
    "warmup_stable_decay",
]


def top_p_field():
    """Nucleus sampling's `top_p`, as every sampling stage takes it."""
    return Field(
        1.0,
        gt=0,
        le=1,
        description="nucleus sampling: keep the smallest set of tokens with this much probability (1 = all)",
    )


def processes_field(
    description: str = "generation processes under torchrun: each draws its share of the "
    "prompts (the same samples as one process; `max_rows // n` prompts per share)",
):
    """`processes: N`: the engine runs the stage under torchrun with N processes (align.engine.launch); by default the
    description of a generating stage's (align.generation.sharding)."""
    return Field(1, ge=1, description=description)


class TrainingConfig(StageConfig):
    """Knobs every TRL trainer takes; each training stage adds its method's own."""

    model: str = model_field("model to train: HF dir, hub id or world:<name>")
    epochs: float = Field(1.0, gt=0, description="passes over the data (ignored when max_steps > 0)")
    max_steps: int = Field(-1, description="optimizer steps; -1 = derive from epochs")
    learning_rate: float = Field(1e-4, gt=0, description="peak learning rate (after warmup; the scheduler decays it)")
    batch_size: int = Field(8, ge=1, description="per-device batch size")
    grad_accum: int = Field(1, ge=1, description="gradient accumulation steps")
    warmup: float = Field(0.0, ge=0, description="warmup steps, or a fraction of all steps if < 1")
    lr_scheduler: Scheduler = Field("cosine", description="transformers scheduler name")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    max_length: int = Field(512, ge=8, description="tokens per sequence; longer ones are truncated")
    save_steps: int = Field(50, ge=1, description="checkpoint interval: a killed stage resumes from here")
    logging_steps: int = Field(10, ge=1, description="log train/* metrics every this many optimizer steps")
    too_long: Literal["fail", "drop"] = Field(
        "fail",
        description="rows that keep no completion token within max_length: fail before training (naming "
        "how many and the first) or drop them (counted as train/dropped_too_long)",
    )
    limit: int | None = Field(None, ge=1, description="use only the first N rows (smoke runs)")
    lora: LoraSettings | None = Field(None, description="train LoRA adapters instead of all weights")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="weights' dtype while training: auto = bfloat16 on GPUs that support it, else float32"
    )
    deepspeed: str | None = Field(
        None, description="DeepSpeed: `zero2` or `zero3` (the shipped configs) or a JSON config's path"
    )
    processes: int = processes_field(
        "training processes: >1 runs the stage under torchrun (DDP; gloo on CPU, NCCL on GPU)"
    )
    nnodes: int = Field(
        1,
        ge=1,
        description="machines training together (torchrun --nnodes); each runs the same "
        "`align run` with its own node_rank",
    )
    node_rank: int = Field(0, ge=0, description="this machine's place among the nnodes (0 hosts the rendezvous)")
    rdzv_endpoint: str | None = Field(
        None, description="host:port of node 0, reachable from every node (needed when nnodes > 1)"
    )
    trainer: dict[str, Any] = Field(
        default_factory=dict,
        description="extra fields of the TRL/transformers "
        "config (e.g. {max_grad_norm: 0.5, optim: adafactor}); checked before the run",
    )

    @field_validator("deepspeed")
    @classmethod
    def deepspeed_config_exists(cls, value):
        if value is not None and not Path(deepspeed_config(value)).is_file():
            raise ValueError(f"DeepSpeed config {value!r} is not a file (or name a shipped one: zero2, zero3)")
        return value

    @model_validator(mode="after")
    def nodes_meet(self):
        if self.nnodes > 1 and not (self.rdzv_endpoint and ":" in self.rdzv_endpoint):
            raise ValueError(f"nnodes={self.nnodes} needs rdzv_endpoint: node 0's host:port")
        if self.node_rank >= self.nnodes:
            raise ValueError(f"node_rank={self.node_rank} must be below nnodes={self.nnodes}")
        return self

    def trainer_args(self, output_dir: Path, seed: int):
        """The TRL/transformers config this stage trains with, checkpointing into `output_dir`; each training
        stage builds its own (built once before the run too, so a bad `trainer:` field fails early)."""
        raise NotImplementedError(f"{type(self).__name__} must say which trainer config it trains with")

    def peft(self):
        """A peft LoRA config when `lora` is set, else None (full fine-tuning)."""
        return lora_config(**self.lora.model_dump()) if self.lora else None
