"""One rendering of a prompt, and where sampling stops.

The token ids a policy is sampled with are the ids TRL trains it on and align scores it with: TRL's own
tokenisation of the prompt (a chat prompt through the chat template with the generation prompt; a plain string
through the tokenizer with its special tokens, so a BOS the tokenizer adds is there once, as in training).
Sampling stops at every stop token of the model's generation config, as `model.generate` does, not only at the
tokenizer's eos (Llama-3's `<|eot_id|>`, Gemma's `<end_of_turn>`, Qwen's `<|im_end|>`, Phi-3's `<|end|>`).
"""

from __future__ import annotations


def prompt_ids(tokenizer, prompt) -> list[int]:
    """The prompt's token ids as TRL's trainers tokenise it (`trl.data_utils._tokenize`)."""
    from trl.data_utils import _tokenize

    if isinstance(prompt, str):
        return list(_tokenize(tokenizer, prompt)["input_ids"])
    return list(_tokenize(tokenizer, list(prompt), add_generation_prompt=True)["input_ids"])


def stop_ids(generation_config, tokenizer) -> list[int]:
    """The token ids that end a sample: the model's generation config's `eos_token_id` (one id or a list), as
    `generate` reads it; the tokenizer's eos when the config names none."""
    configured = getattr(generation_config, "eos_token_id", None)
    if configured is None:
        return [] if tokenizer.eos_token_id is None else [tokenizer.eos_token_id]
    return list(configured) if isinstance(configured, (list, tuple)) else [configured]


def saved_stop_ids(path: str, tokenizer) -> list[int]:
    """`stop_ids` of a model dir's `generation_config.json` (the tokenizer's eos when the dir has none)."""
    from transformers import GenerationConfig

    try:
        config = GenerationConfig.from_pretrained(path)
    except OSError:
        config = None
    return stop_ids(config, tokenizer)


def unrenderable(rows: list[dict], tokenizer) -> tuple[int, str] | None:
    """(index, the template's message) of the first row the tokenizer's chat template refuses (a system turn for
    Gemma, turns that do not alternate), or None: checked before the run instead of when a stage tokenises."""
    from align.data.rows import conversations

    for index, row in enumerate(rows):
        for messages, generation in conversations(row):
            try:
                tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
            except Exception as exc:  # the template's own raise_exception, or a bad message it chokes on
                return index, f"{type(exc).__name__}: {exc}"
    return None
