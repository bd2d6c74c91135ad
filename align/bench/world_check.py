"""`align world check`: does the world support self-improvement at all?

Before any recipe exists, this measures the two properties self-training depends on:
1. verifier precision: of the base's samples that the math verifier accepts, how many show fully
   correct working (a verifier that accepts wrong working teaches self-training the wrong thing);
2. one round of "keep what the verifier accepts, fine-tune the base on it" lifts held-out pass@1,
   while the same budget spent on randomly kept samples (verifier off) does not.
The round is ReST-EM's: samples scored by the `math` scorer, kept by the `select` stage's own rules (`verified`:
at most `cap` correct samples a problem at random, repeats counting as sampled; `random`: as many, scores
ignored), fine-tuned by the `sft` stage's code.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from pathlib import Path

from align.data import selection
from align.data.rows import prompt_text
from align.generation.generators import HFGenerator, SamplingParams
from align.loading.datasets import load_dataset
from align.runtime.progress import track
from align.stages import evaluate
from align.stages.base import StageContext
from align.stages.config import TrainingConfig
from align.stages.sft import fine_tune
from align.world import tasks
from rewards import make_scorer, score_in_batches


def expression(prompt) -> str:
    return tasks.arith_expression(prompt_text(prompt, roles=False))


def sample_mode(expr: str, completion: str) -> str:
    steps = completion.count("=")
    n_ops = len(tasks.arith_steps(expr))
    return "lazy" if steps == 0 else "stop_early" if steps < n_ops else "full"


def e_step(problems: list[dict], outs: list[list[str]], cap: int, seed: int) -> tuple[list, list, dict]:
    """The kept rows of the verifier and of the random control, and what the verifier let through."""
    flat = [dict(problem, completion=c) for problem, completions in zip(problems, outs) for c in completions]
    scores = iter(score_in_batches(make_scorer("math"), flat, "math"))
    kept, control, modes = [], [], Counter()
    verified_rng, control_rng = random.Random(seed), random.Random(seed + 1)
    accepted = fully_correct = solved = 0
    for problem, completions in zip(problems, outs):
        expr = expression(problem["prompt"])
        group = [{"completion": c, "score": next(scores)} for c in completions]
        correct = selection.accepted(group)
        accepted, solved = accepted + len(correct), solved + bool(correct)
        fully_correct += sum(tasks.arith_fully_correct(expr, s["completion"]) for s in correct)
        modes.update(sample_mode(expr, c) for c in completions)
        for rows, rule, rng in ((kept, "verified", verified_rng), (control, "random", control_rng)):
            rows += [
                {"prompt": problem["prompt"], "completion": tasks.assistant(s["completion"])}
                for s in selection.pick(group, rule, cap, rng)
            ]
    stats = {
        "accepted_samples": accepted,
        "verifier_precision": fully_correct / accepted if accepted else float("nan"),
        "train_sampled_pass@1": accepted / len(flat),
        "train_pass@k": solved / len(problems),
        "modes": {k: v / sum(modes.values()) for k, v in modes.items()},
        "kept_rows": len(kept),
    }
    return kept, control, stats


def self_improvement_check(
    model: str = "world:base",
    samples: int = 16,
    cap: int = 4,
    epochs: float = 2.0,
    learning_rate: float = 1e-3,
    limit: int | None = None,
    eval_limit: int | None = None,
    seed: int = 0,
) -> dict:
    problems = load_dataset("world:arith_train", "verifiable", limit)
    generator = HFGenerator(model)
    with track("check: sampling train problems", len(problems)) as advance:
        outs = generator.generate(
            [p["prompt"] for p in problems],
            SamplingParams(n=samples, temperature=1.0, max_new_tokens=64, seed=seed),
            advance,
        )
    kept, control, stats = e_step(problems, outs, cap, seed)
    result = {
        "model": model,
        "problems": len(problems),
        "samples_per_problem": samples,
        "cap": cap,
        "epochs": epochs,
        **stats,
    }
    eval_config = evaluate.Config(model=model, instruct=None, reference=None, limit=eval_limit)
    with tempfile.TemporaryDirectory() as tmp:
        result["before"] = evaluate_model(model, eval_config, Path(tmp) / "before", seed)
        for name, rows in (("verifier", kept), ("random_control", control)):
            trained = Path(tmp) / name
            train_on(model, rows, trained, epochs, learning_rate, seed)
            result[name] = evaluate_model(str(trained / "model"), eval_config, Path(tmp) / f"eval-{name}", seed)
    return result


def train_on(model_spec: str, rows: list[dict], out: Path, epochs: float, learning_rate: float, seed: int) -> None:
    """The same fine-tuning the `sft` stage does, on in-memory rows; the model lands in out/model."""
    config = TrainingConfig(
        model=model_spec, epochs=epochs, learning_rate=learning_rate, batch_size=32, max_length=128, save_steps=10**9
    )
    ctx = StageContext(out_dir=out, work_dir=out / "work", seed=seed, log=lambda *a: None)
    fine_tune(rows, config, ctx, description=f"check: sft on {out.name}")


def evaluate_model(model: str, config: evaluate.Config, out: Path, seed: int) -> dict:
    out.mkdir(parents=True)
    ctx = StageContext(out_dir=out, work_dir=out, seed=seed, log=lambda *a: None, progress=track)
    return evaluate.run(config.model_copy(update={"model": model}), ctx).metrics
