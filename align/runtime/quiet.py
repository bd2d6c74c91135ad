"""One kind of console output: align's own rich bars and tables instead of the libraries' tqdm bars, info lines
and renamed-argument warnings. Called once where a process starts: the CLI, the Python API, a torchrun rank."""

from __future__ import annotations

import contextlib
import io
import os
import warnings


def quiet_libraries() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    # align passes gradient_checkpointing=False deliberately (TRL defaults it on); the rename warning is noise
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
    with contextlib.redirect_stdout(io.StringIO()):  # wandb's "[INFO] Running in WANDB offline mode" on import
        import transformers.integrations.integration_utils  # noqa: F401
