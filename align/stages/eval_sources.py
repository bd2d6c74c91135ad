"""What measured each number of the `evaluate` stage: the dataset and rows, the scorer and the decoding behind every
metric, and whether the world's sets measured a model they do not test. The run's summary table and report.md print
both (`align.engine.report`), so a user-model run never reports a world number as its own."""

from __future__ import annotations

from align.loading.models import is_world_model
from align.world import is_world_ref
from rewards import spec_name


def judge_metric(config) -> str:
    """The instruction score's name: only the world's gold judge gives `gold_score`."""
    return "eval/gold_score" if spec_name(config.judge) == "gold_judge" else "eval/judge_score"


def measured_on(config, sets: dict[str, list[dict]]) -> dict[str, str]:
    """Metric -> the dataset (and rows), scorer and decoding behind it, as the summary table and report print it."""

    def on(data: str, task: str, by: str, decoding: str = "greedy") -> str:
        return f"{data} ({len(sets[task])} rows), {by}, {decoding}"

    sampled = f"{{}} samples/row at T={config.temperature:g}"
    out = {}
    if "verifiable" in sets:
        verifier, n = f"verifier {spec_name(config.verifier)}", config.samples
        out["eval/pass@1"] = on(config.verifiable, "verifiable", verifier)
        out[f"eval/pass@{n}"] = out["eval/pass@1_sampled"] = on(
            config.verifiable, "verifiable", verifier, sampled.format(n)
        )
        out["eval/right_working"] = on(config.verifiable, "verifiable", "the world's check of the working")
    if "instruct" in sets:
        judge, name = f"judge {spec_name(config.judge)}", judge_metric(config)
        out[name] = on(config.instruct, "instruct", judge)
        out[name + "_sampled"] = on(config.instruct, "instruct", judge, sampled.format(config.instruct_samples))
        out["eval/win_rate"] = on(config.instruct, "instruct", f"{judge} vs {config.baseline}")
        for label, spec in config.scorers.items():
            out[f"eval/{label}"] = on(config.instruct, "instruct", f"scorer {spec_name(spec)}")
    if "reference" in sets:
        out["eval/rouge_l"] = on(config.reference, "reference", "Rouge-L vs its completions")
        out["eval/rouge_l_sampled"] = on(
            config.reference, "reference", "Rouge-L vs its completions", sampled.format(config.reference_samples)
        )
        out["eval/teacher_logprob"] = on(config.reference, "reference", f"log-probs under {config.teacher}")
    if config.heldout:
        out["eval/heldout_nll"] = f"{config.heldout}, the policy's NLL of its completions"
    return out


def world_sets_warning(config) -> str | None:
    """The world's sets and gold judge test the world's skills in the world's tokenizer: on another model their
    numbers say nothing about it, so the run says so instead of reporting them silently."""
    world = [s for s in (config.verifiable, config.instruct, config.reference, config.heldout) if is_world_ref(s)]
    if spec_name(config.judge) == "gold_judge" and config.instruct:
        world.append("the gold judge")
    if not world or is_world_model(config.model):
        return None
    return (
        f"{config.model} is not a world model (its tokenizer is not the world's), but {', '.join(world)} measured "
        "it: the world's sets test the world's skills; give the recipe your own evaluation data and judge"
    )
