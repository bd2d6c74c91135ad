"""The `align` command line (Typer). `python cli.py ...` at the repo root is the same app."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from align import __version__
from align.errors import AlignError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Chain post-training methods as resumable recipes.")
world_app = typer.Typer(no_args_is_help=True, help="The embedded default world (tiny models and data).")
app.add_typer(world_app, name="world")
console = Console(width=None if sys.stdout.isatty() else 160)  # logs and pipes get full tables


def fail(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(2)


def version_callback(value: bool):
    if value:
        console.print(f"align {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=version_callback, is_eager=True, help="Show the version and exit."
    ),
):
    """align: SFT, reward models, rejection sampling, DPO, distillation and ReST-EM as one resumable chain."""
    from align.runtime.quiet import quiet_libraries

    quiet_libraries()  # one kind of progress bar (ours, rich) instead of three libraries' tqdm bars per stage


@app.command(context_settings={"allow_extra_args": False})
def run(
    recipe: str = typer.Argument(..., help="a name in recipes/ or a path to a YAML recipe"),
    overrides: list[str] | None = typer.Argument(None, help="dotted key=value overrides"),
    run_dir: str | None = typer.Option(None, "--run-dir", help="default: runs/<recipe>"),
    smoke: bool = typer.Option(False, "--smoke", help="tiny sizes: the same recipe in seconds"),
    fresh: bool = typer.Option(False, "--fresh", help="start over: delete what the run dir holds first"),
):
    """Run a recipe; running the same command again resumes it and skips finished stages."""
    from align.api import run as run_recipe
    from align.engine.report import summary_notes, summary_table

    try:
        result = run_recipe(recipe, overrides or [], run_dir, smoke, fresh)
    except AlignError as exc:
        fail(str(exc))
    except (ValueError, OSError) as exc:
        fail(f"{type(exc).__name__}: {exc}")
    console.print(summary_table(result.summaries, title=f"{recipe}: {result.run_dir}"))
    for note in summary_notes(result.summaries):
        console.print(note, style="bold yellow" if note.startswith("warning:") else None, markup=False, highlight=False)
    console.print(f"report: {result.report}")


@app.command()
def recipes(
    show: str | None = typer.Option(None, "--show", help="a recipe: its parameters and every stage's keys, documented"),
    stage: str | None = typer.Option(None, "--stage", help="a stage type: every key, its default and meaning"),
):
    """List the recipes in recipes/ with their one-line descriptions (or document one recipe, or one stage type)."""
    from align.engine import explain
    from align.engine.recipe_files import RECIPES_DIR, read_yaml

    try:
        if show or stage:
            for table in ([explain.stage_table(stage)] if stage else []) + (
                explain.recipe_tables(show) if show else []
            ):
                console.print(table)
            return
    except AlignError as exc:
        fail(str(exc))
    table = Table("recipe", "description", caption="align recipes --show NAME: its parameters, documented")
    for path in sorted(RECIPES_DIR.glob("*.yaml")):
        doc = read_yaml(path) or {}
        table.add_row(path.stem, str(doc.get("description", "")))
    console.print(table)


RERUN = {
    "interrupted": " (a re-run was interrupted: these are the last finished run's outputs)",
    "failed": " (a re-run failed: these are the last finished run's outputs)",
    "running": " (being re-run)",
}


@app.command()
def show(run_dir: Path, as_json: bool = typer.Option(False, "--json", help="machine-readable output")):
    """Stages, status and key metrics of a run."""
    from align.engine.report import run_overview

    try:
        overview = run_overview(run_dir)
    except AlignError as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(overview, indent=2) + "\n")
        return
    table = Table("stage", "status", "metrics", "last run because", title=f"{overview['recipe']} ({run_dir})")
    for stage in overview["stages"]:
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in stage["metrics"].items()
            if k in stage["key_metrics"]
        )
        status = stage["status"] + (RERUN[stage["rerun"]] if stage["rerun"] else "")
        table.add_row(stage["name"], status, shown, "; ".join(stage["rerun_reasons"]))
    console.print(table)


@app.command()
def report(run_dir: Path):
    """(Re)write RUN_DIR/report.md with PNG plots."""
    from align.engine.report import write_report

    try:
        console.print(f"report: {write_report(run_dir)}")
    except AlignError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write the report in {run_dir}: {exc.strerror} ({exc.filename})")


@world_app.command("build")
def world_build(
    out: Path | None = typer.Option(None, help="default: the package's world assets dir"),
    size: str = typer.Option("full", help="full (shipped assets) or micro (seconds, for tests)"),
    seed: int = typer.Option(0),
    data_only: bool = typer.Option(
        False, help="regenerate datasets only, keep the models (refused if their training corpora would change)"
    ),
    retrain_changed: bool = typer.Option(
        False, help="regenerate datasets and retrain only the models whose training corpora changed"
    ),
    rater_only: bool = typer.Option(False, help="retrain only world:rater from the shipped teacher"),
):
    """Rebuild the embedded world's tokenizer, datasets and models deterministically."""
    from align.bench.world_build import build_world, rebuild_data, rebuild_rater

    try:
        if rater_only:
            manifest = rebuild_rater(out)
            console.print(f"world:rater rebuilt: {manifest['models']['rater']['agreement']}")
            return
        if data_only or retrain_changed:
            manifest = rebuild_data(out, retrain=retrain_changed)
            retrained = ", models retrained where their corpora changed" if retrain_changed else ""
            console.print(f"world datasets rebuilt{retrained}: {manifest['path']}/data")
            return
        manifest = build_world(out, size=size, seed=seed)
    except AlignError as exc:
        fail(str(exc))
    console.print(f"world built in {manifest['build_seconds']:.0f}s: {manifest['path']}")


@world_app.command("check")
def world_check(limit: int | None = typer.Option(None, help="first N training problems (default all)")):
    """Measure verifier precision on base samples and one round of verifier-filtered self-training."""
    from align.bench.world_check import self_improvement_check

    result = self_improvement_check(limit=limit)
    table = Table(
        "policy",
        "pass@1 greedy",
        "pass@1 sampled",
        "pass@16",
        title=f"verifier precision {result['verifier_precision']:.1%} on {result['accepted_samples']} accepted",
    )
    for name in ("before", "verifier", "random_control"):
        m = result[name]
        table.add_row(name, f"{m['eval/pass@1']:.3f}", f"{m['eval/pass@1_sampled']:.3f}", f"{m['eval/pass@16']:.3f}")
    console.print(table)


@world_app.command("report")
def world_report(out: Path = typer.Option(Path("reports/world.md"))):
    """Evaluate base and teacher, run the self-improvement check, write reports/world.md."""
    from align.bench.world_report import write_world_report

    console.print(f"wrote {write_world_report(out)}")


bench_app = typer.Typer(no_args_is_help=True, help="Measured benchmarks that write reports/*.md.")
app.add_typer(bench_app, name="bench")


@bench_app.command("learning")
def bench_learning(
    suite: list[str] = typer.Option(
        ["rest-em", "rest-em-hard", "xwin", "dpkd", "alpagasus", "miniplm", "online-rl"],
        help="rest-em, rest-em-hard, xwin, dpkd, alpagasus, miniplm and/or online-rl",
    ),
    seeds: int = typer.Option(3, min=1, help="run each headline row under seed=0..N-1"),
    smoke: bool = typer.Option(False, "--smoke", help="tiny sizes (checks the plumbing only)"),
    render_only: bool = typer.Option(False, "--render-only", help="rewrite the report from its json"),
    out: Path = typer.Option(Path("reports/learning.md")),
):
    """Run each recipe and its controls on the embedded world; write reports/learning.md with plots."""
    from align.bench.learning import SUITES
    from align.bench.learning import bench_learning as run_bench

    unknown = [s for s in suite if s not in SUITES]
    if unknown:
        fail(f"unknown suite(s) {unknown}: choose from {sorted(SUITES)}")
    root = Path("runs/bench-smoke" if smoke else "runs/bench")
    console.print(f"wrote {run_bench(suite, root=root, out=out, smoke=smoke, render_only=render_only, seeds=seeds)}")


@bench_app.command("perf")
def bench_perf(
    full: bool = typer.Option(False, "--full", help="700 prompts and a full xwin-pipeline run (~15 min)"),
    smoke: bool = typer.Option(False, "--smoke", help="tiny sizes (checks the plumbing only)"),
    out: Path = typer.Option(Path("reports/perf.md")),
):
    """Measure align against raw transformers/TRL side by side; write reports/perf.md (+ .json)."""
    from align.bench.perf import bench_perf as run_bench

    root = Path("runs/bench-perf-smoke" if smoke else "runs/bench-perf")
    console.print(f"wrote {run_bench(out=out, root=root, full=full, smoke=smoke)}")


if __name__ == "__main__":
    app()
