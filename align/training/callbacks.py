"""What every trainer reports back: its logs as the run's `train/*` metrics, and a rich progress bar."""

from __future__ import annotations

from collections.abc import Callable

from transformers import TrainerCallback

from align.runtime.progress import track

# Log fields that are no training metric: bookkeeping, and the session's clock (token counting adds it to every log).
NOT_METRICS = ("epoch", "step", "total_flos", "train_runtime")


def is_summary(logs: dict) -> bool:
    """The trainer's end-of-training summary (`train_loss`: the run's mean) or an evaluate() call. Not a step's
    log, even when token counting adds the session's `train_runtime` and tokens/s to every step's log."""
    return "train_loss" in logs or "eval_runtime" in logs


class MetricsCallback(TrainerCallback):
    """Forwards the trainer's logs (loss, lr, ...) to the run's metric log as `train/<name>`, all metrics of
    one optimizer step in one call, at that step."""

    def __init__(self, log: Callable[[dict, int | None], None]):
        self.log = log

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or (logs and is_summary(logs)):
            return  # end-of-training summary (averages) or an evaluate() call: the stage reports those itself
        step_metrics = {}
        for name, value in (logs or {}).items():
            if isinstance(value, (int, float)) and name not in NOT_METRICS:
                key = name if name.startswith(("train/", "eval/")) else f"train/{name.removeprefix('train_')}"
                step_metrics[key] = float(value)
        if step_metrics:
            self.log(step_metrics, state.global_step)


class ProgressCallback(TrainerCallback):
    """A rich bar over optimizer steps (the trainer's own tqdm bar is turned off)."""

    def __init__(self, description: str):
        self.description = description
        self._context = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self._context = track(self.description, state.max_steps)
        self._advance = self._context.__enter__()
        self._advance(state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self._context is not None:
            self._advance(1)

    def on_train_end(self, args, state, control, **kwargs):
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None


def callbacks(log: Callable[[dict, int | None], None], description: str) -> list:
    """What every training stage attaches: metrics to the run log, and a rich progress bar."""
    return [MetricsCallback(log), ProgressCallback(description)]
