"""The recipe engine: runs stages in order, skips finished ones, and never leaves half-written work.

Bookkeeping lives here and nowhere else. A stage only sees its validated config and a `StageContext`
(where to write, where to checkpoint, how to log); it knows nothing of hashes, DONE files or resume.

Layout: each stage has its own dir named after the stage (`runs/<run>/<stage>/`, `it2-sample/` in loops), so
inserting or removing a stage renames nothing. Resume rule: a stage is skipped when its dir has a DONE file,
its stage.json records the same hash of (stage type, resolved config, seed, hashes of the stages it reads,
digests of its input files), and its recorded outputs are still there. Otherwise it re-runs, and stage.json
records why (which of those inputs changed). Because a stage's hash includes its upstream stages' hashes, a
changed config re-runs that stage and everything downstream of it, and nothing else.

The call chain: `run` checks every input and takes the run dir's lock; `run_stages` goes through the plan;
`reuse_or_run` either reuses a finished stage (`reuse`) or runs it (`execute`).
"""

from __future__ import annotations

import json
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pydantic import ValidationError

from align.engine import fingerprint, stage_dir
from align.engine.inputs import InputChecker
from align.engine.launch import run_distributed
from align.engine.outputs import Outputs, check_references
from align.engine.recipe import Recipe, StagePlan, format_validation_error
from align.engine.runlock import RunLock
from align.engine.runlog import RunLog, read_json
from align.errors import AlignError, disk_full
from align.refs import REF
from align.runtime.progress import track
from align.runtime.seeding import seed_everything
from align.stages import stage_module
from align.stages.base import StageContext, StageResult, StopLoop
from align.stages.config import input_names
from align.training.checkpoints import resumed_step


@dataclass
class Attempt:
    """One stage instance about to run or be reused: its plan, validated config, what it computes from (and the
    hash of that), its seed and its dir."""

    plan: StagePlan
    module: ModuleType
    config: object
    inputs: dict
    digest: str
    seed: int
    dir: Path

    def record(self, **fields) -> dict:
        """The stage.json record of this attempt."""
        return {
            "name": self.plan.name,
            "type": self.plan.type,
            "hash": self.digest,
            "inputs": self.inputs,
            "config": self.config.model_dump(mode="json"),
            "iteration": self.plan.iteration,
            **fields,
        }


class Engine:
    def __init__(self, recipe: Recipe, run_dir: Path, progress_factory=track, fresh: bool = False):
        self.recipe = recipe
        self.run_dir = Path(run_dir)
        self.fresh = fresh  # start over: delete what the run dir holds (after the inputs check out)
        self.progress_factory = progress_factory
        self.produced = Outputs(recipe.stages)
        self.summaries: list[dict] = []
        self.stopped: dict[str, str] = {}  # repeat block -> why a stage ended it early
        self.log: RunLog | None = None

    @property
    def outputs(self) -> dict[str, dict]:
        """Stage name -> its outputs (absolute paths) and values."""
        return self.produced.values

    def run(self) -> list[dict]:
        """Check every stage's inputs, take the run dir's lock, then run the stages: one summary per stage."""
        self.check_inputs()
        with RunLock(self.run_dir):
            if self.fresh:
                for item in self.run_dir.iterdir():
                    if item.name != ".lock":
                        stage_dir.remove(item)
            self.check_run_dir()
            self.log = RunLog(self.run_dir, self.recipe)
            return self.run_stages()

    def check_inputs(self) -> None:
        """Check every stage's inputs (datasets, models, scorers, trainer fields) before any stage runs, so bad
        input fails in seconds; only `${stage.output}` values, which earlier stages produce, wait."""
        check_references(self.recipe.stages)
        checker = InputChecker()
        for plan in self.recipe.stages:
            module = stage_module(plan.type)
            checker.check_stage(plan.name, module, module.Config(**plan.config), plan.raw)

    def check_run_dir(self) -> None:
        """Refuse a dir this recipe cannot resume: another recipe's run, or a corrupt run record."""
        state = read_json(self.run_dir / "run.json")
        if (self.run_dir / "run.json").exists() and not (
            isinstance(state, dict) and isinstance(state.get("stages", {}), dict)
        ):
            raise AlignError(
                f"{self.run_dir / 'run.json'} is not a run record (corrupt or of the wrong shape): "
                f"repair or delete it, or start over with --fresh"
            )
        if isinstance(state, dict) and state.get("recipe") not in (None, self.recipe.name):
            raise AlignError(
                f"{self.run_dir} holds a run of recipe {state.get('recipe')!r}, not "
                f"{self.recipe.name!r}: use another --run-dir, or --fresh to start over"
            )

    def run_stages(self) -> list[dict]:
        self.log.start([plan.name for plan in self.recipe.stages])
        try:
            for plan in self.recipe.stages:
                if plan.block in self.stopped:  # an earlier stage of its loop ended the loop
                    self.log.stage_status(plan.name, "stopped")
                    self.summaries.append(
                        {"name": plan.name, "status": "stopped", "metrics": {}, "stopped": self.stopped[plan.block]}
                    )
                else:
                    self.summaries.append(self.reuse_or_run(self.attempt(plan)))
        except BaseException as exc:
            self.log.finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            raise
        self.log.finish("done")
        return self.summaries

    def attempt(self, plan: StagePlan) -> Attempt:
        """The stage's config with earlier stages' outputs filled in, validated, and what it computes from."""
        module = stage_module(plan.type)
        deps: set[str] = set()
        raw = self.produced.resolve(plan.config, plan, deps)
        try:
            config = module.Config(**raw)
        except ValidationError as exc:  # an earlier stage's output of the wrong shape
            raise AlignError(f"stage {plan.name!r}: {format_validation_error(exc)}") from None
        seed = fingerprint.stage_seed(self.recipe.seed, plan.name)
        inputs = fingerprint.stage_inputs(
            plan.type,
            config.model_dump(mode="json"),
            {d: self.produced.hashes[d] for d in sorted(deps)},
            self.run_dir,
            seed,
            input_names(config),
        )
        return Attempt(plan, module, config, inputs, fingerprint.inputs_hash(inputs), seed, self.run_dir / plan.name)

    def reuse_or_run(self, attempt: Attempt) -> dict:
        info = read_json(attempt.dir / "stage.json") or {}
        done = (attempt.dir / "DONE").exists()
        same = done and info.get("hash") == attempt.digest
        reasons = (
            []
            if same
            else fingerprint.changes(
                info.get("inputs") if done else None, attempt.inputs, fingerprint.unset_fields(attempt.config)
            )
        )
        if done and not same and info.get("inputs") and not reasons:
            attempt.digest, same = info["hash"], True  # only fields added to align since, at their defaults
        untrusted = stage_dir.output_problems(attempt.dir, info) if same else []
        if same and not untrusted:
            return self.reuse(attempt, info)
        return self.execute(attempt, untrusted if same else reasons)

    def reuse(self, attempt: Attempt, info: dict) -> dict:
        name = attempt.plan.name
        if info.get("stopped"):  # it ended its loop last time, and will again: nothing to record
            self.stopped[attempt.plan.block] = info["stopped"]
        else:
            self.produced.record(name, attempt.dir, info, attempt.digest)
        self.log.settle(name, attempt.digest)  # rows of an attempt that never finished describe nothing on disk
        self.log.stage_status(
            name, "stopped" if info.get("stopped") else "done", skipped=True, reasons=info.get("rerun_reasons", [])
        )
        return {"name": name, "status": "skipped", **info}

    def execute(self, attempt: Attempt, reasons: list[str]) -> dict:
        """Run the stage into `.out` (in this process, or under torchrun with `processes`/`nnodes`), check it
        wrote what it says, promote its outputs and record it."""
        plan, name = attempt.plan, attempt.plan.name
        self.check_resolved_inputs(attempt)
        stage_dir.prepare(attempt.dir, attempt.digest)
        self.log.stage_status(name, "running", reasons=reasons)
        started = time.time()
        ctx = self.begin(attempt)
        try:
            result = self.call_stage(attempt, ctx)
        except StopLoop as stop:
            if plan.block is None:
                stage_dir.discard_attempt(attempt.dir)
                raise AlignError(f"stage {name!r}: {stop} (stopping a loop needs a repeat block)") from None
            return self.stop_loop(attempt, str(stop))
        except BaseException as exc:
            stage_dir.discard_attempt(attempt.dir)
            self.log.stage_status(name, "failed", error=traceback.format_exc(limit=-4))
            message = self.one_line(name, exc)
            if message is None:
                raise
            raise AlignError(message) from None
        missing = stage_dir.missing_outputs(attempt.dir, result.outputs)
        if missing:  # a stage that says it wrote what it did not is a failure, never a finished stage
            stage_dir.discard_attempt(attempt.dir)
            message = f"stage {name!r} ({plan.type}) finished without writing its output(s) {missing}"
            self.log.stage_status(name, "failed", error=message)
            raise AlignError(message)
        if result.metrics:
            self.log.metrics(name, result.metrics, None, attempt.digest)
        info = attempt.record(
            outputs=result.outputs,
            values=result.values,
            metrics=result.metrics,
            key_metrics=result.shown_metrics(),
            rerun_reasons=reasons,
            wall_s=round(time.time() - started, 2),
        )
        info["output_digests"] = {
            key: fingerprint.path_digest(ctx.out_dir / rel) for key, rel in result.outputs.items()
        }
        stage_dir.promote(attempt.dir, info, attempt.digest)
        shutil.rmtree(ctx.work_dir, ignore_errors=True)  # checkpoints are only for resuming
        self.produced.record(name, attempt.dir, info, attempt.digest)
        self.log.settle(name, attempt.digest)
        self.log.stage_status(name, "done")
        return {"status": "ran", **info}

    def begin(self, attempt: Attempt) -> StageContext:
        """The attempt's context; its metric rows start where its checkpoint is (the finished outputs' rows stay
        until this attempt replaces them)."""
        name = attempt.plan.name
        ctx = StageContext(
            out_dir=attempt.dir / ".out",
            work_dir=attempt.dir / ".work",
            seed=attempt.seed,
            log=lambda metrics, step: self.log.metrics(name, metrics, step, attempt.digest),
            progress=self.progress_factory,
        )
        done = read_json(attempt.dir / "DONE") if (attempt.dir / "DONE").exists() else None
        finished = done.get("hash") if isinstance(done, dict) else None
        resumed = resumed_step(ctx.work_dir / "checkpoints")
        self.log.begin_stage(name, resumed, attempt.digest, finished if finished != attempt.digest else None)
        return ctx

    def one_line(self, name: str, exc: BaseException) -> str | None:
        """What a failed stage says: bad input found at run time, or a full disk (nothing finished is lost: the
        same command resumes once there is room); None for a bug, whose traceback is the message."""
        if isinstance(exc, (AlignError, ValueError)):
            return str(exc) if str(exc).startswith("stage ") else f"stage {name!r}: {exc}"
        if disk_full(exc):
            return (
                f"stage {name!r}: no space left on the device holding {self.run_dir}: free some space and run the "
                "same command again (finished stages are kept)"
            )
        return None

    def check_resolved_inputs(self, attempt: Attempt) -> None:
        """The checks `check_inputs` left for run time: the inputs that were an earlier stage's output, now that
        they are known (before this stage writes anything)."""
        late = {field for field, value in attempt.plan.config.items() if REF.search(json.dumps(value))}
        if late:
            InputChecker().check_stage(attempt.plan.name, attempt.module, attempt.config, attempt.plan.raw, only=late)

    def call_stage(self, attempt: Attempt, ctx: StageContext) -> StageResult:
        config = attempt.config
        if getattr(config, "processes", 1) > 1 or getattr(config, "nnodes", 1) > 1:
            first_row = self.log.metric_count()
            result = run_distributed(
                attempt.plan.type, attempt.plan.name, config, ctx, self.log.metrics_path, attempt.digest
            )
            self.log.forward_to_tracker(first_row)  # rank 0 wrote metrics.jsonl; wandb gets them now
            return result
        seed_everything(attempt.seed)  # every stage starts from its own RNG state, whatever ran before it
        return attempt.module.run(config, ctx)

    def stop_loop(self, attempt: Attempt, reason: str) -> dict:
        """Record the stage as finished with `stopped` (a re-run stops at the same place) and end its loop. It
        has no outputs: references to the block resolve to the iterations that finished."""
        info = attempt.record(outputs={}, values={}, metrics={}, key_metrics=[], stopped=reason, output_digests={})
        stage_dir.promote(attempt.dir, info, attempt.digest)
        self.stopped[attempt.plan.block] = reason
        self.log.stage_status(attempt.plan.name, "stopped")
        return {"status": "stopped", **info}
