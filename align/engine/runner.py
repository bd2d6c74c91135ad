"""The recipe engine: runs stages in order, skips finished ones, and never leaves half-written work.

Bookkeeping lives here and nowhere else. A stage only sees its validated config and a `StageContext`
(where to write, where to checkpoint, how to log); it knows nothing of hashes, DONE files or resume.

Layout: each stage has its own dir named after the stage (`runs/<run>/<stage>/`, `it2-sample/` in loops), so
inserting or removing a stage renames nothing. Resume rule: a stage is skipped when its dir has a DONE file,
its stage.json records the same hash of (stage type, resolved config, seed, hashes of the stages it reads,
digests of its input files), and its recorded outputs are still there. Otherwise it re-runs, and stage.json
records why (which of those inputs changed). Because a stage's hash includes its upstream stages' hashes, a
changed config re-runs that stage and everything downstream of it, and nothing else.
"""
from __future__ import annotations

import os
import re
import shutil
import time
import traceback
from pathlib import Path

from pydantic import ValidationError

from align.engine import fingerprint
from align.training.checkpoints import resumed_step
from align.errors import AlignError
from align.engine.inputs import InputChecker
from align.engine.launch import run_distributed
from align.runtime.progress import track
from align.engine.recipe import Recipe, StagePlan, format_validation_error
from align.refs import REF
from align.engine.runlock import RunLock
from align.engine.runlog import RunLog, read_json, write_json
from align.runtime.seeding import seed_everything
from align.stages import stage_module
from align.stages.base import StageContext, StopLoop

LEGACY_STAGE_DIR = re.compile(r"^\d{2,}-.+")  # align 0.1 named stage dirs by position: 00-sft, 01-eval


class Engine:
    def __init__(self, recipe: Recipe, run_dir: Path, progress_factory=track, fresh: bool = False):
        self.recipe = recipe
        self.run_dir = Path(run_dir)
        self.fresh = fresh  # start over: delete what the run dir holds (after the inputs check out)
        self.progress_factory = progress_factory
        self.outputs: dict[str, dict] = {}  # stage name -> its outputs (absolute paths) and values
        self.hashes: dict[str, str] = {}
        self.summaries: list[dict] = []
        self.stopped: dict[str, str] = {}  # repeat block -> why a stage ended it early
        self.last_iteration = {}  # repeat block -> its last stage names by inner name
        for plan in recipe.stages:
            if plan.block:
                self.last_iteration.setdefault(plan.block, {})[plan.name.split("-", 1)[1]] = plan.name

    # --------------------------------------------------------------------------------------- refs
    def resolve_refs(self, value, plan: StagePlan, deps: set[str]):
        """Replace `${stage.output}` by the output of an earlier stage (and note the dependency)."""
        if isinstance(value, dict):
            return {k: self.resolve_refs(v, plan, deps) for k, v in value.items()}
        if isinstance(value, list):
            out = []
            for item in value:  # a `${block.*.stage.output}` item expands in place
                resolved = self.resolve_refs(item, plan, deps)
                out.extend(resolved if isinstance(resolved, list) and not isinstance(item, list) else [resolved])
            return out
        if not isinstance(value, str):
            return value
        whole = REF.fullmatch(value)
        if whole:
            return self.lookup(whole.group(1), plan, deps)
        return REF.sub(lambda m: str(self.lookup(m.group(1), plan, deps)), value)

    def lookup(self, ref: str, plan: StagePlan, deps: set[str]):
        parts = ref.split(".")
        if parts[0] == "prev":
            earlier = (plan.aliases.get("prev") or {}).get(parts[1]) if len(parts) > 2 else None
            if earlier is None:
                initial = plan.aliases.get("initial", {})
                key = ".".join(parts[1:])
                if key not in initial:
                    raise AlignError(f"stage {plan.name!r}: ${{{ref}}} has no value in iteration 1: "
                                     f"add `initial: {{{key}: ...}}` to the repeat block")
                return self.resolve_refs(initial[key], plan, deps)
            stage, rest = earlier, parts[2:]
        elif parts[0] in plan.aliases and isinstance(plan.aliases[parts[0]], str):
            stage, rest = plan.aliases[parts[0]], parts[1:]
        elif parts[0] in self.last_iteration and parts[1] == "*" and len(parts) == 4:
            names = [n for n in self.iterations_of(parts[0], parts[2]) if n in self.outputs]  # those that ran
            return [self.lookup(f"{name}.{parts[3]}", StagePlan(plan.name, plan.type, {}), deps) for name in names]
        elif parts[0] in self.last_iteration and len(parts) > 2:
            ran = [n for n in self.iterations_of(parts[0], parts[1]) if n in self.outputs]
            stage, rest = (ran[-1] if ran else self.last_iteration[parts[0]].get(parts[1])), parts[2:]
        else:
            stage, rest = parts[0], parts[1:]
        if stage not in self.outputs:
            raise AlignError(f"stage {plan.name!r} refers to ${{{ref}}}, but {stage!r} is not an earlier stage")
        if len(rest) != 1 or rest[0] not in self.outputs[stage]:
            raise AlignError(f"stage {plan.name!r} refers to ${{{ref}}}: stage {stage!r} has outputs "
                             f"{sorted(self.outputs[stage])}")
        deps.add(stage)
        return self.outputs[stage][rest[0]]

    def iterations_of(self, block: str, inner: str) -> list[str]:
        """`block`'s instances of its stage `inner`, iteration by iteration."""
        return [p.name for p in self.recipe.stages if p.block == block and p.name.split("-", 1)[1] == inner]

    # ---------------------------------------------------------------------------------------- run
    def run(self) -> list[dict]:
        self.check_inputs()
        with RunLock(self.run_dir):
            if self.fresh:
                for item in self.run_dir.iterdir():
                    if item.name != ".lock":
                        shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
            self.check_run_dir()
            return self.run_locked()

    def run_locked(self) -> list[dict]:
        log = RunLog(self.run_dir, self.recipe)
        state = log.start([(p.name, p.name) for p in self.recipe.stages])
        try:
            for plan in self.recipe.stages:
                if plan.block in self.stopped:
                    log.stage_status(state, plan.name, "stopped")
                    self.summaries.append({"name": plan.name, "status": "stopped", "metrics": {},
                                           "stopped": self.stopped[plan.block]})
                    continue
                self.summaries.append(self.run_plan(plan, log, state))
        except BaseException as exc:
            log.finish(state, "failed" if not isinstance(exc, KeyboardInterrupt) else "interrupted")
            raise
        log.finish(state, "done")
        return self.summaries

    def run_plan(self, plan: StagePlan, log: RunLog, state: dict) -> dict:
        module = stage_module(plan.type)
        deps: set[str] = set()
        raw = self.resolve_refs(plan.config, plan, deps)
        try:
            config = module.Config(**raw)
        except ValidationError as exc:  # an earlier stage's output of the wrong shape
            raise AlignError(f"stage {plan.name!r}: {format_validation_error(exc)}") from None
        seed = fingerprint.stage_seed(self.recipe.seed, plan.name)
        inputs = fingerprint.stage_inputs(plan.type, config.model_dump(mode="json"),
                                          {d: self.hashes[d] for d in sorted(deps)}, self.run_dir, seed)
        return self.run_stage(plan, module, config, inputs, seed, self.run_dir / plan.name, log, state)

    def check_inputs(self) -> None:
        """Check every stage's inputs (datasets, models, scorers, trainer fields) before any stage runs, so bad
        input fails in seconds; only `${stage.output}` values, which earlier stages produce, wait."""
        checker = InputChecker()
        for plan in self.recipe.stages:
            module = stage_module(plan.type)
            checker.check_stage(plan.name, module, module.Config(**plan.config), plan.raw)

    def check_run_dir(self) -> None:
        """Refuse a dir this recipe cannot resume: another recipe's run, or one made by align 0.1."""
        state = read_json(self.run_dir / "run.json")
        if (self.run_dir / "run.json").exists() and not (isinstance(state, dict) and
                                                         isinstance(state.get("stages", {}), dict)):
            raise AlignError(f"{self.run_dir / 'run.json'} is not a run record (corrupt or of the wrong shape): "
                             f"repair or delete it, or start over with --fresh")
        if isinstance(state, dict) and state.get("recipe") not in (None, self.recipe.name):
            raise AlignError(f"{self.run_dir} holds a run of recipe {state.get('recipe')!r}, not "
                             f"{self.recipe.name!r}: use another --run-dir, or --fresh to start over")
        legacy = sorted(p.name for p in self.run_dir.iterdir() if LEGACY_STAGE_DIR.fullmatch(p.name)
                        and (p / "stage.json").exists())
        if legacy:
            raise AlignError(f"{self.run_dir} was made by align 0.1 (stage dirs named by position: "
                             f"{', '.join(legacy[:3])}...); its stages cannot be reused: run into a new "
                             f"--run-dir, or delete {self.run_dir}")

    def run_stage(self, plan, module, config, inputs: dict, seed: int, stage_dir: Path, log: RunLog,
                  state: dict) -> dict:
        digest = fingerprint.inputs_hash(inputs)
        info = read_json(stage_dir / "stage.json") or {}
        done = (stage_dir / "DONE").exists()
        same = done and info.get("hash") == digest
        reasons = [] if same else fingerprint.changes(info.get("inputs") if done else None, inputs,
                                                      fingerprint.unset_fields(config))
        if done and not same and info.get("inputs") and not reasons:
            digest, same = info["hash"], True  # only fields added to align since, at their defaults: reuse it
        untrusted = output_problems(stage_dir, info) if same else []
        if same and not untrusted:
            if info.get("stopped"):  # it ended its loop last time, and will again: nothing to record
                self.stopped[plan.block] = info["stopped"]
            else:
                self.record(plan.name, stage_dir, info, digest)
            log.stage_status(state, plan.name, "stopped" if info.get("stopped") else "done", skipped=True)
            return {"name": plan.name, "status": "skipped", **info}
        reasons = untrusted if same else reasons
        if done and info and "inputs" not in info:
            reasons = ["recorded by an older align"]
        prepare_stage_dir(stage_dir, digest)
        log.stage_status(state, plan.name, "running", reasons=reasons)
        started = time.time()
        out_tmp = stage_dir / ".out"
        ctx = StageContext(out_dir=out_tmp, work_dir=stage_dir / ".work", seed=seed,
                           log=lambda metrics, step: log.metrics(plan.name, metrics, step),
                           progress=self.progress_factory)
        log.begin_stage(plan.name, resumed_step(ctx.work_dir / "checkpoints"))
        try:
            if getattr(config, "processes", 1) > 1 or getattr(config, "nnodes", 1) > 1:
                first_row = log.metric_count()
                result = run_distributed(plan.type, plan.name, config, ctx, log.metrics_path)
                log.forward_to_tracker(first_row)  # rank 0 wrote metrics.jsonl; wandb gets them now
            else:
                seed_everything(seed)  # every stage starts from its own RNG state, whatever ran before it
                result = module.run(config, ctx)
        except StopLoop as stop:
            if plan.block is None:
                shutil.rmtree(out_tmp, ignore_errors=True)
                raise AlignError(f"stage {plan.name!r}: {stop} (stopping a loop needs a repeat block)") from None
            return self.stop_loop(plan, config, inputs, digest, stage_dir, out_tmp, str(stop), log, state)
        except BaseException:
            shutil.rmtree(out_tmp, ignore_errors=True)  # nothing half-written survives a failure
            log.stage_status(state, plan.name, "failed", error=traceback.format_exc(limit=-4))
            raise
        missing = sorted(key for key, rel in result.outputs.items() if not (out_tmp / rel).exists())
        if missing:  # a stage that says it wrote what it did not is a failure, never a finished stage
            shutil.rmtree(out_tmp, ignore_errors=True)
            message = f"stage {plan.name!r} ({plan.type}) finished without writing its output(s) {missing}"
            log.stage_status(state, plan.name, "failed", error=message)
            raise AlignError(message)
        if result.metrics:
            log.metrics(plan.name, result.metrics, None)
        info = {"name": plan.name, "type": plan.type, "hash": digest, "inputs": inputs,
                "config": config.model_dump(mode="json"), "outputs": result.outputs, "values": result.values,
                "metrics": result.metrics, "key_metrics": result.shown_metrics(), "iteration": plan.iteration,
                "rerun_reasons": reasons, "wall_s": round(time.time() - started, 2)}
        info["output_digests"] = {k: fingerprint.path_digest(out_tmp / rel) for k, rel in result.outputs.items()}
        promote(stage_dir, out_tmp, info, digest)
        shutil.rmtree(ctx.work_dir, ignore_errors=True)  # checkpoints are only for resuming
        self.record(plan.name, stage_dir, info, digest)
        log.stage_status(state, plan.name, "done")
        return {"status": "ran", **info}

    def stop_loop(self, plan, config, inputs, digest, stage_dir, out_tmp, reason, log, state) -> dict:
        """Record the stage as finished with `stopped` (a re-run stops at the same place) and end its loop. It
        has no outputs: references to the block resolve to the iterations that finished."""
        info = {"name": plan.name, "type": plan.type, "hash": digest, "inputs": inputs,
                "config": config.model_dump(mode="json"), "outputs": {}, "values": {}, "metrics": {},
                "key_metrics": [], "iteration": plan.iteration, "stopped": reason, "output_digests": {}}
        promote(stage_dir, out_tmp, info, digest)
        self.stopped[plan.block] = reason
        log.stage_status(state, plan.name, "stopped")
        return {"status": "stopped", **info}

    def record(self, name: str, stage_dir: Path, info: dict, digest: str) -> None:
        outputs = {key: str(stage_dir / rel) for key, rel in info.get("outputs", {}).items()}
        self.outputs[name] = {**info.get("values", {}), **outputs}
        self.hashes[name] = digest


def output_problems(stage_dir: Path, info: dict) -> list[str]:
    """Why a finished stage's recorded outputs cannot be trusted: gone, or not what was recorded."""
    problems = []
    for key, rel in info.get("outputs", {}).items():
        path = stage_dir / rel
        if not path.exists():
            problems.append(f"output {key} is missing")
        elif info.get("output_digests", {}).get(key) not in (None, fingerprint.path_digest(path)):
            problems.append(f"output {key} was changed")
    return problems


def prepare_stage_dir(stage_dir: Path, digest: str) -> None:
    """Clear a killed attempt's temp output; keep its checkpoints only if they were made for this hash.
    The previous finished outputs stay until the new ones are promoted."""
    work = stage_dir / ".work"
    keep_work = (work / "HASH").exists() and (work / "HASH").read_text() == digest
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(stage_dir / ".out", ignore_errors=True)
    (stage_dir / ".out").mkdir(parents=True)
    work.mkdir(exist_ok=True)
    (work / "HASH").write_text(digest)


def promote(stage_dir: Path, out_tmp: Path, info: dict, digest: str) -> None:
    """Replace the stage's old outputs by the new ones: DONE goes first and comes back last (atomically), so a
    kill in between leaves a stage that re-runs, never one that looks finished with mixed outputs."""
    (stage_dir / "DONE").unlink(missing_ok=True)
    for item in stage_dir.iterdir():
        if item.name not in (".out", ".work"):
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
    for item in sorted(out_tmp.iterdir()):
        os.replace(item, stage_dir / item.name)
    out_tmp.rmdir()
    write_json(stage_dir / "stage.json", info)
    write_json(stage_dir / "DONE", {"hash": digest, "finished": time.time()})

