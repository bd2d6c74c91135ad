"""Fail fast: check every stage's declared inputs before the first stage runs.

Each stage config declares its inputs on its fields (`dataset_field`, `model_field`, `scorer_field` in
`align.stages.config`). Everything that can be known before the run is checked now: literal dataset paths
(loaded and validated), model dirs, scorer names and options, that a model reading chat rows has a chat template
that renders every row, and the stage's own `check(config)`. A value that is still a `${stage.output}` reference
(an earlier stage's output) is checked the same way when that stage starts (`only`: the fields that were
references).
"""

from __future__ import annotations

from align.errors import AlignError
from align.generation.prompts import unrenderable
from align.loading.datasets import conversational, load_dataset
from align.loading.models import check_weights, load_tokenizer, locate_tokenizer
from align.refs import deferred
from align.stages.config import declared_inputs
from rewards import check_scorer


class InputChecker:
    """Checks inputs stage by stage, loading each dataset and tokenizer once however many stages read it."""

    def __init__(self):
        self.chat_rows: dict[tuple[str, str], list[dict] | None] = {}  # (dataset, kind) -> its rows if chat rows
        self.tokenizers: dict[str, object] = {}  # model -> its tokenizer
        self.rendered: set[tuple] = set()  # (dataset, kind, template, bos, eos) whose every row renders

    def check_stage(self, name: str, module, config, raw: dict, only: set[str] | None = None) -> None:
        for field, marker, value in declared_inputs(config):
            if only is not None and field not in only:
                continue
            try:
                self.check_value(marker, value)
                if marker["input"] == "dataset":
                    self.check_readers(config, marker, value)
            except AlignError as exc:
                origin = raw.get(field)
                via = f" (= {origin})" if deferred(origin) else ""
                raise AlignError(f"stage {name!r}, key {field!r}{via}: {exc}") from None
        if hasattr(module, "check") and (only is None or only):
            try:
                module.check(config)
            except (AlignError, ValueError) as exc:
                raise AlignError(f"stage {name!r}: {exc}") from None

    def check_value(self, marker: dict, value) -> None:
        if value is None or deferred(value):
            return
        kind = marker["input"]
        if kind == "dataset":
            for item in value if isinstance(value, list) else [value]:
                if not deferred(item) and (item, marker["kind"]) not in self.chat_rows:
                    rows = load_dataset(item, marker["kind"])
                    self.chat_rows[item, marker["kind"]] = rows if conversational(rows) else None
        elif kind == "model":
            for item in value if isinstance(value, list) else [value]:
                if not deferred(item):
                    check_weights(item)
        elif kind == "tokenizer":
            locate_tokenizer(value)
        elif kind == "scorer":
            specs = value.values() if marker.get("many") else [value]
            for spec in specs:
                check_scorer(spec)
        else:
            raise AssertionError(f"unknown input marker {kind!r}")

    def check_readers(self, config, marker: dict, value) -> None:
        """Chat rows need a chat template in every model that tokenises them, and that template must render every
        row (templates refuse some: a system turn, turns that do not alternate)."""
        rows = None if value is None or deferred(value) else self.chat_rows.get((value, marker["kind"]))
        if not rows:
            return
        for reader in marker.get("read_by", []):
            model = getattr(config, reader, None)
            if model is None or deferred(model):
                continue
            if model not in self.tokenizers:
                self.tokenizers[model] = load_tokenizer(model)
            tokenizer = self.tokenizers[model]
            if not tokenizer.chat_template:
                raise AlignError(
                    f"{value} holds chat messages, but {reader} {model!r} has no chat template to "
                    f"render them: use a model whose tokenizer has one, or plain-text rows"
                )
            key = (value, marker["kind"], tokenizer.chat_template, tokenizer.bos_token, tokenizer.eos_token)
            if key not in self.rendered:
                if refused := unrenderable(rows, tokenizer):
                    raise AlignError(
                        f"{value}: record {refused[0] + 1}: the chat template of {reader} {model!r} cannot render "
                        f"it ({refused[1]})"
                    )
                self.rendered.add(key)
