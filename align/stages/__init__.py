"""Stage registry: each stage is a module with a `Config` schema and `run(config, ctx) -> StageResult`.

Adding a stage = adding a module here; the engine needs no change.
"""
from align.stages import dpo, evaluate, pick_best, reward, sample, score, select, sft

STAGES = {
    "sft": sft,
    "reward": reward,
    "dpo": dpo,
    "evaluate": evaluate,
    "pick_best": pick_best,
    "sample": sample,
    "score": score,
    "select": select,
}
