"""`align world build`: micro builds are deterministic, data-only rebuilds keep the models, a changed corpus
retrains only its model."""

import pytest
import torch


def test_data_only_rebuild_keeps_models_and_refuses_changed_corpora(tmp_path, monkeypatch):
    from align.bench import world_build as build
    from align.bench import world_data
    from align.errors import AlignError

    root = tmp_path / "world"
    manifest = build.build_world(root, size="micro", seed=0)
    weights = (root / "base" / "model.safetensors").read_bytes()
    (root / "data" / "sft_crowd.jsonl").unlink()
    again = build.rebuild_data(root)
    assert (root / "data" / "sft_crowd.jsonl").exists() and again["models"] == manifest["models"]
    assert (root / "base" / "model.safetensors").read_bytes() == weights
    monkeypatch.setattr(world_data.instruct, "instruct_response_noisy", lambda c, rng: "changed")
    with pytest.raises(AlignError, match="base model's training corpus changed"):
        build.rebuild_data(root)
    assert (root / "data" / "sft_crowd.jsonl").exists() and not (root / "data.building").exists()


def test_retrain_changed_retrains_only_the_changed_model_as_a_full_build_would(tmp_path, monkeypatch):
    from align.bench import world_build as build
    from align.bench import world_data

    root = tmp_path / "world"
    build.build_world(root, size="micro", seed=0)
    teacher = (root / "teacher" / "model.safetensors").read_bytes()
    base = (root / "base" / "model.safetensors").read_bytes()
    noisy = world_data.tasks.arith_solution_noisy  # the same rng draws, another text: only the base's corpus changes
    monkeypatch.setattr(world_data.tasks, "arith_solution_noisy", lambda p, rng: noisy(p, rng) + " ")
    manifest = build.rebuild_data(root, retrain=True)
    assert (root / "teacher" / "model.safetensors").read_bytes() == teacher
    assert (root / "base" / "model.safetensors").read_bytes() != base
    assert manifest["models"]["base"]["corpus_sha256"] == build.corpus_digest(
        build.make_datasets(build.SIZES["micro"], 0)["_base_corpus"]
    )
    assert not any(p.name.endswith(".building") for p in root.iterdir())
    full = build.build_world(tmp_path / "full", size="micro", seed=0)
    assert (tmp_path / "full" / "base" / "model.safetensors").read_bytes() == (
        root / "base" / "model.safetensors"
    ).read_bytes()
    assert full["models"]["base"]["corpus_sha256"] == manifest["models"]["base"]["corpus_sha256"]


def test_micro_world_build(tmp_path):
    from align.bench.world_build import build_world
    from align.data.jsonl import read_jsonl

    manifest = build_world(tmp_path / "world", size="micro", seed=0)
    root = tmp_path / "world"
    for name in ("base", "teacher", "tokenizer", "rater"):
        assert (root / name).is_dir()
    assert set(manifest["models"]["rater"]["agreement"]) >= {"held_out_triples", "parsed"}
    assert (root / "base" / "model.safetensors").exists()
    assert len(read_jsonl(root / "data" / "arith_test.jsonl")) == 10
    assert manifest["models"]["teacher"]["parameters"] > manifest["models"]["base"]["parameters"]
    # same seed -> same data
    again = build_world(tmp_path / "again", size="micro", seed=0)
    for f in (root / "data").glob("*.jsonl"):
        assert f.read_text() == (tmp_path / "again" / "data" / f.name).read_text()
    assert again["datasets"] == manifest["datasets"]
    from safetensors.torch import load_file

    for name in ("base", "teacher"):  # same seed -> same weights (CPU training is deterministic here)
        first, second = (load_file(str(d / name / "model.safetensors")) for d in (root, tmp_path / "again"))
        assert first.keys() == second.keys()
        assert all(torch.allclose(first[k].float(), second[k].float(), atol=1e-3) for k in first)


def test_the_shipped_rater_answers_the_rating_prompt_with_a_parseable_score():
    from align.data import filters
    from align.generation.generators import HFGenerator, SamplingParams

    chats = [
        filters.rating_messages("List 2 fruits, in upper case.", "", response)
        for response in ("APPLE, PEAR", "cat, dog, owl")
    ]
    replies = HFGenerator("world:rater").generate(chats, SamplingParams(n=1, temperature=0, max_new_tokens=8))
    scores = [filters.parse_rating(r[0]) for r in replies]
    assert all(s is not None for s in scores) and scores[0] > scores[1]  # a right answer beats a wrong one
