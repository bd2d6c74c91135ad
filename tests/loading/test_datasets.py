"""Datasets by name: JSONL, HF dataset dirs and world names load and validate; bad files name file, record, problem."""

import json

import pytest

from align.data.jsonl import read_jsonl, write_jsonl
from align.errors import AlignError
from align.loading.datasets import load_dataset


def write(tmp_path, text: str | bytes, name="d.jsonl"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


GOOD_SFT = json.dumps({"prompt": "hi", "completion": "there"})


@pytest.mark.parametrize(
    "content, kind, message",
    [
        (GOOD_SFT + "\n{not json\n", "sft", r"line 2: malformed JSON"),
        ('{"prompt": "hi"}\n', "sft", r"record 1: missing column"),
        ('{"prompt": 3, "completion": "x"}\n', "sft", r"record 1: 'prompt' must be a string"),
        ("", "sft", r"the dataset is empty"),
        ("\n\n", "sft", r"the dataset is empty"),
        (b'{"prompt": "\xff\xfe", "completion": "x"}\n', "sft", r"line 1: not valid UTF-8"),
        ("[1, 2]\n", "sft", r"line 1: expected a JSON object"),
        ('{"messages": [{"role": "user", "content": "q"}]}\n', "sft", r"no assistant turn"),
        ('{"messages": "hello"}\n', "sft", r"'messages' must be a non-empty list"),
        ('{"prompt": "p", "chosen": "a", "rejected": "a"}\n', "preference", r"identical"),
        ('{"prompt": "p", "answer": [1]}\n', "verifiable", r"'answer' must be a string or a number"),
    ],
)
def test_bad_data_names_file_record_and_problem(tmp_path, content, kind, message):
    path = write(tmp_path, content)
    with pytest.raises(AlignError, match=message) as info:
        load_dataset(path, kind)
    assert path in str(info.value)


def test_missing_file_is_a_clear_error():
    with pytest.raises(AlignError, match="dataset not found"):
        load_dataset("/no/such/file.jsonl", "sft")


def test_good_formats_load(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        {"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}]},
    ]
    path = tmp_path / "ok.jsonl"
    write_jsonl(path, rows)
    assert load_dataset(str(path), "sft") == rows
    assert load_dataset(str(path), "sft", limit=1) == rows[:1]
    assert read_jsonl(path) == rows
    assert not list(tmp_path.glob("*.tmp"))


def test_world_datasets_resolve():
    rows = load_dataset("world:arith_test", "verifiable")
    assert len(rows) >= 10 and "answer" in rows[0]
    with pytest.raises(AlignError, match="unknown world asset"):
        load_dataset("world:nope", "sft")


def test_local_hf_dataset_dir_loads_and_validates(tmp_path):
    from datasets import Dataset

    Dataset.from_list([{"prompt": "p", "completion": "c"}]).save_to_disk(str(tmp_path / "ds"))
    assert load_dataset(str(tmp_path / "ds"), "sft") == [{"prompt": "p", "completion": "c"}]
    Dataset.from_list([{"prompt": "p"}]).save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(AlignError, match="record 1: missing column"):
        load_dataset(str(tmp_path / "bad"), "sft")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_jsonl_with_unicode_line_separators_in_strings(tmp_path, separator):
    from align.data.jsonl import read_jsonl, write_jsonl

    rows = [{"prompt": f"a{separator}b", "completion": "c"}, {"prompt": "d", "completion": f"e{separator}"}]
    write_jsonl(tmp_path / "x.jsonl", rows)
    assert read_jsonl(tmp_path / "x.jsonl") == rows  # align reads back what it wrote


CHAT_ROWS = [
    {"messages": [{"role": "user", "content": f"Say {w}."}, {"role": "assistant", "content": w}]}
    for w in ("alpha", "beta")
]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".json", ".json-lines", ".parquet", ".csv", "-dir"])
def test_every_file_type_loads_the_same_rows(tmp_path, suffix):
    """What a user brings: JSON lines (plain or gzipped), a JSON array, parquet, CSV or a `save_to_disk` dir."""
    import gzip

    import datasets

    rows = [{"prompt": "Say alpha:", "completion": " alpha"}, {"prompt": "Say beta:", "completion": " beta"}]
    lines = "".join(json.dumps(r) + "\n" for r in rows)
    name = {".json-lines": "d.json", "-dir": "d"}.get(suffix, "d" + suffix)
    path = tmp_path / name
    if suffix == ".jsonl":
        path.write_text(lines)
    elif suffix == ".jsonl.gz":
        path.write_bytes(gzip.compress(lines.encode()))
    elif suffix == ".json":
        path.write_text(json.dumps(rows))
    elif suffix == ".json-lines":
        path.write_text(lines)
    elif suffix == ".parquet":
        datasets.Dataset.from_list(rows).to_parquet(str(path))
    elif suffix == ".csv":
        datasets.Dataset.from_list(rows).to_csv(str(path), index=False)
    else:
        datasets.Dataset.from_list(rows).save_to_disk(str(path))
    assert load_dataset(str(path), "sft") == rows


def test_parquet_keeps_chat_messages(tmp_path):
    import datasets

    datasets.Dataset.from_list(CHAT_ROWS).to_parquet(str(tmp_path / "chat.parquet"))
    assert load_dataset(str(tmp_path / "chat.parquet"), "sft") == CHAT_ROWS


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("d.json", '[{"prompt": "a", "completion": "b"}, 3]', r"d\.json: record 2: expected a JSON object, got int"),
        ("d.json", '[{"prompt": "a",\n "completion": }]', r"d\.json: line 2: malformed JSON"),
        ("d.parquet", "not parquet", r"d\.parquet: not a readable parquet file"),
        ("d.jsonl.gz", "not gzip", r"d\.jsonl\.gz: not a readable gzip file"),
        ("d.txt", "text", r"d\.txt: unknown data file type"),
    ],
)
def test_a_bad_file_of_each_type_says_which_and_why(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(AlignError, match=message):
        load_dataset(str(tmp_path / name), "sft")


@pytest.mark.parametrize("spec", ["data/mine.jsonl", "mine.parquet", "./mine", "~/nowhere/d.csv", "a/b/c"])
def test_a_name_that_looks_local_is_never_a_hub_lookup(spec):
    with pytest.raises(AlignError, match=f"dataset not found: {spec}"):
        load_dataset(spec, "sft")


def test_a_hub_id_takes_a_split_and_a_config_and_fails_in_one_line_offline():
    from align.loading.names import hub_id

    assert hub_id("owner/name?split=test&name=main") == ("owner/name", "test", "main")
    assert hub_id("owner/name") == ("owner/name", "train", None)
    with pytest.raises(AlignError, match=r"unknown option\(s\) \['spilt'\]"):
        hub_id("owner/name?spilt=test")
    with pytest.raises(AlignError, match=r"cannot load dataset 'owner/no-such-dataset' from the hub"):
        load_dataset("owner/no-such-dataset", "sft")  # HF_HUB_OFFLINE=1 in the tests


def test_models_follow_the_same_rule(tmp_path):
    from align.loading.models import locate_model

    assert locate_model("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"  # a hub id, dots and all
    for spec in ("./my-model", "runs/x/sft/model", "model.safetensors"):
        with pytest.raises(AlignError, match=f"model dir not found: {spec}"):
            locate_model(spec)


def test_a_tokenizer_alone_loads_as_a_tokenizer_but_not_as_a_model(tmp_path):
    from align.loading.models import load_tokenizer, locate_model, locate_tokenizer

    assert load_tokenizer("world:tokenizer").chat_template  # miniplm's students start from it
    load_tokenizer("world:tokenizer").save_pretrained(tmp_path / "tok")
    assert locate_tokenizer(str(tmp_path / "tok")) == str(tmp_path / "tok")
    with pytest.raises(AlignError, match="has no config.json"):
        locate_model(str(tmp_path / "tok"))
    with pytest.raises(AlignError, match="has no tokenizer"):
        locate_tokenizer(str(tmp_path))
