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
