"""Stage registry: each stage is a module with a `Config` schema and `run(config, ctx) -> StageResult`.

Adding a stage = adding a module here; the engine needs no change.
"""
from align.stages import evaluate, sample, score, select, sft

STAGES = {
    "sft": sft,
    "evaluate": evaluate,
    "sample": sample,
    "score": score,
    "select": select,
}
