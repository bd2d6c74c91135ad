"""Multi-process training: run one stage under torchrun (`processes: N` in a training stage's config).

The engine stays single-process; for such a stage it writes the stage's config to a payload file and
starts `torchrun --nproc_per_node N -m align.engine.launch PAYLOAD`. Each rank runs the same stage code (HF
Trainer does the DDP part: NCCL on GPUs, gloo on CPU); only rank 0 logs metrics, shows progress and
writes outputs, then leaves the StageResult in a file the engine reads back.

Several machines (`nnodes`, `node_rank`, `rdzv_endpoint`): every machine runs the same `align run` with its
own `node_rank`, and each node's local rank 0 writes the stage's outputs into that machine's run dir (the
replicas are identical), so the next stages run on every machine with no shared filesystem.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from align.engine.runlog import append_metrics
from align.errors import AlignError
from align.runtime.distributed import is_node_main, rank
from align.runtime.progress import track
from align.runtime.quiet import quiet_libraries
from align.runtime.seeding import seed_everything
from align.stages import stage_module
from align.stages.base import StageContext, StageResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_command(config, payload: Path) -> list[str]:
    """torchrun for the stage: `processes` per node; with `nnodes` > 1, this machine joins as `node_rank`
    at node 0's `rdzv_endpoint` (torchrun's static rendezvous: every node names node 0's host:port)."""
    nodes = getattr(config, "nnodes", 1)
    if nodes > 1:
        host, port = config.rdzv_endpoint.rsplit(":", 1)
        where = [
            "--nnodes",
            str(nodes),
            "--node_rank",
            str(config.node_rank),
            "--master_addr",
            host,
            "--master_port",
            port,
        ]
    else:
        where = ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(config.processes),
        *where,
        "-m",
        "align.engine.launch",
        str(payload),
    ]


def run_distributed(
    stage_type: str, stage_name: str, config, ctx: StageContext, metrics_path: Path, attempt: str | None = None
) -> StageResult:
    """Run the stage under torchrun and return this node's local rank 0's StageResult."""
    payload = ctx.work_dir / "launch.json"
    payload.write_text(
        json.dumps(
            {
                "stage": stage_type,
                "stage_name": stage_name,
                "attempt": attempt,
                "config": config.model_dump(mode="json"),
                "out_dir": str(ctx.out_dir),
                "work_dir": str(ctx.work_dir),
                "seed": ctx.seed,
                "metrics": str(metrics_path),
            }
        )
    )
    if subprocess.run(torchrun_command(config, payload)).returncode != 0:
        raise AlignError(
            f"{stage_type} failed under torchrun with {config.processes} processes per node on "
            f"{getattr(config, 'nnodes', 1)} node(s) (see its output above)"
        )
    result_file = ctx.out_dir / ".result.json"
    result = json.loads(result_file.read_text())
    result_file.unlink()
    return StageResult(**result)


@contextmanager
def silent_progress(description: str, total: int):
    yield lambda n=1: None


def main(payload_path: str) -> None:
    quiet_libraries()
    payload = json.loads(Path(payload_path).read_text())
    module = stage_module(payload["stage"])
    config = module.Config(**payload["config"])
    main_rank = is_node_main()  # each node keeps its own copy of the outputs, in its own run dir

    def log(metrics, step):
        if main_rank:
            append_metrics(Path(payload["metrics"]), payload["stage_name"], metrics, step, payload.get("attempt"))

    out_dir = Path(payload["out_dir"]) if main_rank else Path(payload["work_dir"]) / f"rank-{rank()}-out"
    out_dir.mkdir(parents=True, exist_ok=True)  # other ranks' outputs go nowhere: rank 0's are the stage's
    ctx = StageContext(
        out_dir=out_dir,
        work_dir=Path(payload["work_dir"]),
        seed=payload["seed"],
        log=log,
        progress=track if main_rank else silent_progress,
    )
    seed_everything(ctx.seed)
    result = module.run(config, ctx)
    if main_rank:
        (ctx.out_dir / ".result.json").write_text(json.dumps(asdict(result)))
    leave_process_group()


def leave_process_group() -> None:
    """Tear the process group down while Python is still alive. Left to interpreter exit, gloo's worker
    threads can outlive it and abort the process (SIGABRT, "terminate called without an active exception"),
    which failed a finished stage. Only on success: after an error, the other ranks may never reach it."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
