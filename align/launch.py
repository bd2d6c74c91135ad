"""Multi-process training: run one stage under torchrun (`processes: N` in a training stage's config).

The engine stays single-process; for such a stage it writes the stage's config to a payload file and
starts `torchrun --nproc_per_node N -m align.launch PAYLOAD`. Each rank runs the same stage code (HF
Trainer does the DDP part: NCCL on GPUs, gloo on CPU); only rank 0 logs metrics, shows progress and
writes outputs, then leaves the StageResult in a file the engine reads back.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from align.distributed import is_main_process, rank
from align.errors import AlignError
from align.progress import track
from align.runlog import append_metrics
from align.seeding import seed_everything
from align.stages import stage_module
from align.stages.base import StageContext, StageResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_distributed(stage_type: str, stage_name: str, config, ctx: StageContext, processes: int,
                    metrics_path: Path) -> StageResult:
    """Run the stage in `processes` ranks and return rank 0's StageResult."""
    payload = ctx.work_dir / "launch.json"
    payload.write_text(json.dumps({"stage": stage_type, "stage_name": stage_name,
                                   "config": config.model_dump(mode="json"),
                                   "out_dir": str(ctx.out_dir), "work_dir": str(ctx.work_dir),
                                   "seed": ctx.seed, "metrics": str(metrics_path)}))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "align.launch", str(payload)]
    if subprocess.run(command).returncode != 0:
        raise AlignError(f"{stage_type} failed under torchrun with {processes} processes (see its output above)")
    result_file = ctx.out_dir / ".result.json"
    result = json.loads(result_file.read_text())
    result_file.unlink()
    return StageResult(**result)


@contextmanager
def silent_progress(description: str, total: int):
    yield lambda n=1: None


def main(payload_path: str) -> None:
    payload = json.loads(Path(payload_path).read_text())
    module = stage_module(payload["stage"])
    config = module.Config(**payload["config"])
    main_rank = is_main_process()

    def log(metrics, step):
        if main_rank:
            append_metrics(Path(payload["metrics"]), payload["stage_name"], metrics, step)

    out_dir = Path(payload["out_dir"]) if main_rank else Path(payload["work_dir"]) / f"rank-{rank()}-out"
    out_dir.mkdir(parents=True, exist_ok=True)  # other ranks' outputs go nowhere: rank 0's are the stage's
    ctx = StageContext(out_dir=out_dir, work_dir=Path(payload["work_dir"]), seed=payload["seed"],
                       log=log, progress=track if main_rank else silent_progress)
    seed_everything(ctx.seed)
    result = module.run(config, ctx)
    if main_rank:
        (ctx.out_dir / ".result.json").write_text(json.dumps(asdict(result)))


if __name__ == "__main__":
    main(sys.argv[1])
