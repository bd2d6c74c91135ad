"""Supervised fine-tuning on rows with TRL's SFTTrainer: the loss on completion/assistant tokens only (or on every
token of `text` rows). Shared by the `sft` and `pretrain` stages and by the world's builders."""

from __future__ import annotations

from align.data.rows import prompt_completion
from align.training.run import steps_for_tokens


def assistant_masks_available(tokenizer) -> bool:
    """Whether TRL can mask the loss to the assistant turns of this chat template: it marks them with
    `{% generation %}` itself, or TRL ships a training version of it (`trl/chat_templates/*_training.jinja`)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if not tokenizer.chat_template:
        return False
    if has_generation_markers(tokenizer.chat_template):
        return True
    try:
        get_training_chat_template(tokenizer)
    except ValueError:  # "patching is not supported for this template"
        return False
    return True


def training_rows(rows: list[dict], tokenizer) -> tuple[list[dict], bool]:
    """Rows in one TRL format, and whether to use assistant-only loss. `text` rows (language modelling: loss on
    every token) pass through. `messages` rows train every assistant turn (its end-of-turn token included) where
    TRL can mark them; otherwise each conversation is split into prompt (everything before its last assistant
    turn) and completion (that turn), as prompt/completion rows are trained."""
    if all("text" in r for r in rows):
        return [{"text": r["text"]} for r in rows], False
    if all("messages" in r for r in rows) and assistant_masks_available(tokenizer):
        return [{"messages": r["messages"]} for r in rows], True
    return [prompt_completion(r) for r in rows], False


def sft_trainer(
    model, tokenizer, records: list[dict], args, peft_config=None, callbacks=(), max_tokens: int | None = None
):
    """TRL's SFTTrainer on `records` (from `training_rows`). `max_tokens`: train on about that many input tokens,
    the step count derived from the prepared (tokenised, truncated) rows."""
    from datasets import Dataset
    from trl import SFTTrainer

    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(records),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=list(callbacks),
    )
    if max_tokens:
        batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
        trainer.args.max_steps = steps_for_tokens(lengths, max_tokens, batch)
    return trainer
