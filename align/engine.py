"""The recipe engine: runs stages in order, skips finished ones, and never leaves half-written work.

Bookkeeping lives here and nowhere else. A stage only sees its validated config and a `StageContext`
(where to write, where to checkpoint, how to log); it knows nothing of hashes, DONE files or resume.

Resume rule: a stage is skipped when its dir has a DONE file and its stage.json records the same hash
of (stage type, resolved config, hashes of its inputs). A stage's hash includes the hashes of the
stages it reads from, so a changed config re-runs that stage and everything downstream of it.
"""
from __future__ import annotations

import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from align import fingerprint
from align.errors import AlignError
from align.recipe import REF, Recipe, StagePlan
from align.runlog import RunLog, read_json, write_json


@dataclass
class StageContext:
    """What a stage may use: its output dir (temp, renamed into place on success), a work dir that
    survives a kill (trainer checkpoints), a seed, a metric logger and a progress factory."""
    out_dir: Path
    work_dir: Path
    seed: int
    log: Callable[[str, float, int], None]
    progress: Callable = None


@dataclass
class StageResult:
    outputs: dict = field(default_factory=dict)  # name -> path relative to the stage dir, or a value
    metrics: dict = field(default_factory=dict)  # summary metrics, e.g. {"eval/pass@1": 0.4}


def stage_dirname(index: int, name: str) -> str:
    return f"{index:02d}-{name}"


class Engine:
    def __init__(self, recipe: Recipe, run_dir: Path, progress_factory=None):
        self.recipe = recipe
        self.run_dir = Path(run_dir)
        if progress_factory is None:
            from align.progress import track as progress_factory
        self.progress_factory = progress_factory
        self.outputs: dict[str, dict] = {}  # stage name -> resolved outputs
        self.hashes: dict[str, str] = {}
        self.summaries: list[dict] = []
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
            names = [p.name for p in self.recipe.stages if p.block == parts[0] and p.name.endswith(f"-{parts[2]}")]
            return [self.lookup(f"{name}.{parts[3]}", StagePlan(plan.name, plan.type, {}), deps) for name in names]
        elif parts[0] in self.last_iteration and len(parts) > 2:
            stage, rest = self.last_iteration[parts[0]].get(parts[1]), parts[2:]
        else:
            stage, rest = parts[0], parts[1:]
        if stage not in self.outputs:
            raise AlignError(f"stage {plan.name!r} refers to ${{{ref}}}, but {stage!r} is not an earlier stage")
        if len(rest) != 1 or rest[0] not in self.outputs[stage]:
            raise AlignError(f"stage {plan.name!r} refers to ${{{ref}}}: stage {stage!r} has outputs "
                             f"{sorted(self.outputs[stage])}")
        deps.add(stage)
        return self.outputs[stage][rest[0]]

    # ---------------------------------------------------------------------------------------- run
    def run(self) -> list[dict]:
        from align.stages import STAGES

        self.check_inputs()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = RunLog(self.run_dir, self.recipe)
        state = log.start([(p.name, stage_dirname(i, p.name)) for i, p in enumerate(self.recipe.stages)])
        try:
            for index, plan in enumerate(self.recipe.stages):
                module = STAGES[plan.type]
                deps: set[str] = set()
                raw = self.resolve_refs(plan.config, plan, deps)
                config = module.Config(**raw)
                seed = fingerprint.stage_seed(self.recipe.seed, plan.name)
                digest = fingerprint.stage_hash(plan.type, config.model_dump(mode="json"),
                                                {d: self.hashes[d] for d in sorted(deps)}, self.run_dir, seed)
                stage_dir = self.run_dir / stage_dirname(index, plan.name)
                summary = self.run_stage(plan, module, config, digest, seed, stage_dir, log, state)
                self.summaries.append(summary)
        except BaseException as exc:
            log.finish(state, "failed" if not isinstance(exc, KeyboardInterrupt) else "interrupted")
            raise
        log.finish(state, "done")
        return self.summaries

    def check_inputs(self) -> None:
        """Validate every input that exists before the run (datasets, model dirs), so bad input fails
        in seconds, before any stage has run or written anything."""
        from align.stages import STAGES

        for plan in self.recipe.stages:
            module = STAGES[plan.type]
            if hasattr(module, "check") and not REF.search(repr(plan.config)):
                module.check(module.Config(**plan.config))

    def run_stage(self, plan, module, config, digest, seed, stage_dir: Path, log: RunLog, state) -> dict:
        info = read_json(stage_dir / "stage.json")
        if (stage_dir / "DONE").exists() and info and info.get("hash") == digest:
            self.record(plan.name, stage_dir, info, digest)
            log.stage_status(state, plan.name, "done", skipped=True)
            return {"name": plan.name, "status": "skipped", **info}
        prepare_stage_dir(stage_dir, digest)
        log.stage_status(state, plan.name, "running")
        started = time.time()
        out_tmp = stage_dir / ".out"
        ctx = StageContext(out_dir=out_tmp, work_dir=stage_dir / ".work",
                           seed=seed,
                           log=lambda name, value, step: log.metric(plan.name, name, value, step),
                           progress=self.progress_factory)
        log.begin_stage(plan.name, ctx.work_dir)
        try:
            processes = getattr(config, "processes", 1)
            if processes > 1:
                from align.launch import run_distributed

                result = run_distributed(plan.type, plan.name, config, ctx, processes, log.metrics_path)
            else:
                result = module.run(config, ctx)
        except BaseException:
            shutil.rmtree(out_tmp, ignore_errors=True)  # nothing half-written survives a failure
            log.stage_status(state, plan.name, "failed", error=traceback.format_exc(limit=3))
            raise
        for name, value in result.metrics.items():
            log.metric(plan.name, name, value, None)
        # Promote outputs into place, then stage.json, then DONE (written last, atomically).
        for item in sorted(out_tmp.iterdir()):
            os.replace(item, stage_dir / item.name)
        out_tmp.rmdir()
        info = {"name": plan.name, "type": plan.type, "hash": digest, "config": config.model_dump(mode="json"),
                "outputs": result.outputs, "metrics": result.metrics, "iteration": plan.iteration,
                "wall_s": round(time.time() - started, 2)}
        write_json(stage_dir / "stage.json", info)
        write_json(stage_dir / "DONE", {"hash": digest, "finished": time.time()})
        shutil.rmtree(ctx.work_dir, ignore_errors=True)  # checkpoints are only for resuming
        self.record(plan.name, stage_dir, info, digest)
        log.stage_status(state, plan.name, "done")
        return {"status": "ran", **info}

    def record(self, name: str, stage_dir: Path, info: dict, digest: str) -> None:
        outputs = {}
        for key, value in info.get("outputs", {}).items():
            outputs[key] = str(stage_dir / value) if isinstance(value, str) and (stage_dir / value).exists() else value
        self.outputs[name] = outputs
        self.hashes[name] = digest


def prepare_stage_dir(stage_dir: Path, digest: str) -> None:
    """Clear whatever a stale or killed attempt left, keeping checkpoints only if the hash matches."""
    work = stage_dir / ".work"
    keep_work = work.exists() and (work / "HASH").exists() and (work / "HASH").read_text() == digest
    if stage_dir.exists():
        for item in stage_dir.iterdir():
            if item == work and keep_work:
                continue
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    (stage_dir / ".out").mkdir(parents=True)
    work.mkdir(exist_ok=True)
    (work / "HASH").write_text(digest)
