"""Tiny random-init models of the main families, built at test time with no hub.

Each family gets a byte-level BPE tokenizer trained here with `tokenizers` (a few hundred merges on the world's
corpus), the family's special tokens, its real chat template as TRL ships it (`trl/chat_templates/*.jinja`), the
BOS its released tokenizer adds, and the stop list its released `generation_config.json` has, named as token
strings. A model is "memorised" for a few hundred Adam steps on short answers that each end in one of its stop
tokens, so that every stop token really ends some row of its samples (a random model almost never emits a given
token: a stop-token check on it would pass trivially).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'"
    " + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Family:
    """One family: its architecture, chat template (a TRL file stem, `chatml`, or None), the tokenizer's special
    tokens (bos/eos/pad/unk as the released tokenizer names them; None: it has none), other special tokens, plain
    added tokens, the stop tokens of its generation config, and whether its tokenizer prepends BOS."""

    name: str
    model_type: str
    template: str | None
    bos: str | None
    eos: str
    pad: str | None
    stops: tuple[str, ...]
    specials: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    adds_bos: bool = False
    system_role: bool = True
    model_kwargs: dict = field(default_factory=dict)


FAMILIES = {
    f.name: f
    for f in [
        # The first Llama-3-Instruct: its tokenizer's eos is <|end_of_text|>, the end of turn only in the stop list.
        Family(
            "llama3",
            "llama",
            "llama3",
            "<|begin_of_text|>",
            "<|end_of_text|>",
            None,
            ("<|end_of_text|>", "<|eot_id|>"),
            ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
            adds_bos=True,
        ),
        Family(
            "llama3_1",
            "llama",
            "llama3_1",
            "<|begin_of_text|>",
            "<|eot_id|>",
            None,
            ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"),
            ("<|start_header_id|>", "<|end_header_id|>", "<|end_of_text|>", "<|eom_id|>", "<|python_tag|>"),
            adds_bos=True,
        ),
        # Qwen2.5 with a base-style tokenizer: eos <|endoftext|>, the end of turn <|im_end|> only in the stop list.
        Family(
            "qwen2_5",
            "qwen2",
            "qwen2_5",
            None,
            "<|endoftext|>",
            "<|endoftext|>",
            ("<|im_end|>", "<|endoftext|>"),
            ("<|im_start|>", "<|im_end|>"),
        ),
        Family(
            "qwen3",
            "qwen3",
            "qwen3",
            None,
            "<|im_end|>",
            "<|endoftext|>",
            ("<|im_end|>", "<|endoftext|>"),
            ("<|im_start|>", "<|endoftext|>"),
            ("<think>", "</think>"),
        ),
        Family(
            "gemma",
            "gemma",
            "gemma",
            "<bos>",
            "<eos>",
            "<pad>",
            ("<eos>", "<end_of_turn>"),
            ("<start_of_turn>", "<end_of_turn>"),
            adds_bos=True,
            system_role=False,
            model_kwargs={"head_dim": 16},
        ),
        Family(
            "phi3",
            "phi3",
            "phi3",
            "<s>",
            "<|endoftext|>",
            "<|endoftext|>",
            ("<|endoftext|>", "<|assistant|>", "<|end|>"),
            ("<|user|>", "<|assistant|>", "<|system|>", "<|end|>"),
            adds_bos=True,
        ),
        # TRL ships no Mistral template: a sliding-window Mistral with ChatML.
        Family(
            "mistral_chatml",
            "mistral",
            "chatml",
            "<s>",
            "</s>",
            None,
            ("</s>", "<|im_end|>"),
            ("<|im_start|>", "<|im_end|>"),
            adds_bos=True,
            model_kwargs={"sliding_window": 8},
        ),
        # A GPT-2-style base model: no chat template, no pad token.
        Family("gpt2", "gpt2", None, "<|endoftext|>", "<|endoftext|>", None, ("<|endoftext|>",)),
        # A template that marks assistant turns with {% generation %} itself.
        Family(
            "qwen2_5_marked",
            "qwen2",
            "qwen2_5_training",
            None,
            "<|im_end|>",
            "<|endoftext|>",
            ("<|im_end|>", "<|endoftext|>"),
            ("<|im_start|>", "<|endoftext|>"),
        ),
    ]
}
CHAT_FAMILIES = [name for name, f in FAMILIES.items() if f.template]


def trl_template(stem: str) -> str:
    if stem == "chatml":
        return CHATML
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{stem}.jinja").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def bpe_corpus() -> list[str]:
    """Text to learn merges from: the world's corpus (its prompts and answers) and the family markers' words."""
    from align.data.jsonl import read_jsonl
    from align.data.rows import completion_text, prompt_text
    from align.world import resolve

    rows = read_jsonl(resolve("world:corpus"))[:3000]
    text = [prompt_text(r["prompt"], roles=False) + " " + completion_text(r["completion"]) for r in rows]
    return text + ["system user assistant model Hello there, friend. Say alpha beta gamma delta."] * 50


def build_tokenizer(family: Family):
    """A byte-level BPE with the family's special tokens, BOS behaviour and chat template."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    specials = list(dict.fromkeys(t for t in (family.bos, family.eos, family.pad, *family.specials) if t))
    core.train_from_iterator(
        bpe_corpus(),
        trainers.BpeTrainer(
            vocab_size=600,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    if family.adds_bos:
        bos_id = core.token_to_id(family.bos)
        core.post_processor = processors.TemplateProcessing(
            single=f"{family.bos} $A", pair=f"{family.bos} $A $B", special_tokens=[(family.bos, bos_id)]
        )
    else:
        core.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=family.bos,
        eos_token=family.eos,
        pad_token=family.pad,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [t for t in specials if t not in (family.bos, family.eos, family.pad)]}
    )
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in family.added])
    if family.template:
        tokenizer.chat_template = trl_template(family.template)
    return tokenizer


def build_model(family: Family, tokenizer, seed: int = 0):
    """A random-init model of the family (2 layers, hidden 32) with the family's stop list in its generation config."""
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    ids = {
        name: tokenizer.convert_tokens_to_ids(token)
        for name, token in (("bos_token_id", family.bos), ("eos_token_id", family.eos), ("pad_token_id", family.pad))
        if token
    }
    size = (
        {"n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 256}
        if family.model_type == "gpt2"
        else {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 256,
        }
    )
    config = AutoConfig.for_model(family.model_type, vocab_size=len(tokenizer), **size, **ids, **family.model_kwargs)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    stops = [tokenizer.convert_tokens_to_ids(t) for t in family.stops]
    model.generation_config = GenerationConfig(
        eos_token_id=stops if len(stops) > 1 else stops[0],
        bos_token_id=ids.get("bos_token_id"),
        pad_token_id=ids.get("pad_token_id"),
    )
    return model


def memorised_texts(family: Family) -> list[tuple[str, str]]:
    """(prompt, completion) pairs whose completions end in each stop token in turn: plain text, as a base model
    reads it (each prompt distinct, so the stop after it is learnable)."""
    prompts = ["Say alpha:", "Tell me two words:", "One more please:"]
    answers = [" alpha", " beta gamma", " delta"]
    return [(prompts[i], answers[i] + stop) for i, stop in enumerate(family.stops)]


def memorise(model, tokenizer, texts: list[tuple[str, str]], steps: int = 200) -> None:
    """A few hundred Adam steps on whole sequences (BOS as the tokenizer adds it), so greedy decoding repeats them."""
    batch = [tokenizer(p + c)["input_ids"] for p, c in texts]
    width = max(map(len, batch))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.tensor([row + [pad] * (width - len(row)) for row in batch])
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in batch])
    labels = ids.masked_fill(mask == 0, -100)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def build_family(name: str, root: Path) -> Path:
    """The family's model dir (tokenizer + memorised model + generation config), built once per test session."""
    family = FAMILIES[name]
    path = root / name
    if not (path / "config.json").exists():
        tokenizer = build_tokenizer(family)
        model = build_model(family, tokenizer)
        memorise(model, tokenizer, memorised_texts(family))
        model.save_pretrained(str(path))
        tokenizer.save_pretrained(str(path))
        (path / "family.json").write_text(json.dumps({"name": name, "stops": list(family.stops)}))
    return path
