"""What a run shows a person: `align show` (overview), the end-of-run table, report.md with plots."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from rich.table import Table

from align.engine.runlog import finished_rows, read_json, read_metrics
from align.errors import AlignError


def key_metrics(stages: list[dict]) -> list[str]:
    """The metric columns of a table: each stage's own `key_metrics` (what it chose to show), in first-seen order."""
    shown: list[str] = []
    for stage in stages:
        for name in stage.get("key_metrics", stage.get("metrics", {})):
            if name not in shown and name in stage.get("metrics", {}):
                shown.append(name)
    return shown


def pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def run_overview(run_dir: Path) -> dict:
    """The machine-readable contract of `align show --json`."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists():
        raise AlignError(f"{run_dir} is not a run dir (no run.json)")
    state = read_json(run_dir / "run.json")
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("stages"), dict)
        or "recipe" not in state
        or not all(isinstance(e, dict) and isinstance(e.get("dir"), str) for e in state["stages"].values())
    ):
        raise AlignError(f"{run_dir / 'run.json'} is not a run record (corrupt or of the wrong shape)")
    alive = state.get("status") == "running" and pid_alive(state.get("pid"))
    run_status = "interrupted" if state.get("status") == "running" and not alive else state.get("status")
    stages = []
    for name, entry in state["stages"].items():
        stage_dir = run_dir / entry["dir"]
        info = read_json(stage_dir / "stage.json") or {}
        rerun = None  # an attempt to replace finished outputs that did not (yet) finish
        if info.get("stopped") or entry.get("status") == "stopped":
            status = "stopped"
        elif (stage_dir / "DONE").exists() and info:
            status = "done"
            if entry.get("status") in ("running", "failed"):
                rerun = "failed" if entry["status"] == "failed" else "running" if alive else "interrupted"
        elif entry.get("status") == "failed":
            status = "failed"
        elif entry.get("status") == "running":
            status = "running" if alive else "interrupted"
        else:
            status = "pending"
        done = status == "done"
        stages.append(
            {
                "name": name,
                "dir": str(stage_dir),
                "status": status,
                "metrics": info.get("metrics", {}) if done else {},
                "key_metrics": info.get("key_metrics", []) if done else [],
                "outputs": info.get("outputs", {}) if done else {},
                "values": info.get("values", {}) if done else {},
                "rerun_reasons": entry.get("rerun_reasons", info.get("rerun_reasons", [])),
                "rerun": rerun,
                "stopped": info.get("stopped"),
                "wall_s": info.get("wall_s") if done else None,
            }
        )
    return {"recipe": state["recipe"], "status": run_status, "stages": stages}


def measured_on(stages: list[dict], shown: list[str]) -> list[str]:
    """One line per shown metric that a stage says how it measured (`values.measured_on`): the data, scorer and
    decoding, once when every stage measured it alike, else per stage."""
    lines = []
    for metric in shown:
        by_stage = {s["name"]: s["values"]["measured_on"][metric] for s in stages if metric_source(s, metric)}
        if len(set(by_stage.values())) == 1:
            lines.append(f"{metric}: {next(iter(by_stage.values()))}")
        else:
            lines += [f"{metric} ({stage}): {source}" for stage, source in by_stage.items()]
    return lines


def metric_source(stage: dict, metric: str) -> str | None:
    return ((stage.get("values") or {}).get("measured_on") or {}).get(metric)


def warnings(stages: list[dict]) -> list[str]:
    return [f"{s['name']}: {w}" for s in stages for w in (s.get("values") or {}).get("warnings", [])]


def summary_notes(summaries: list[dict]) -> list[str]:
    """The lines printed under the summary table: what measured each number, and any warning a stage raised."""
    return measured_on(summaries, key_metrics(summaries)) + [f"warning: {w}" for w in warnings(summaries)]


def summary_table(summaries: list[dict], title: str) -> Table:
    """The short table every run ends with: one row per stage, its wall time and key metrics."""
    shown = key_metrics(summaries)
    table = Table(title=title)
    table.add_column("stage")
    table.add_column("status")
    table.add_column("wall s", justify="right")
    for metric in shown:
        table.add_column(metric.split("/", 1)[-1], justify="right")
    for s in summaries:
        metrics = s.get("metrics", {})
        cells = [cell(metrics.get(m)) for m in shown]
        status = s["status"] if s["status"] in ("skipped", "stopped") else "ran"
        table.add_row(s["name"], status, f"{s.get('wall_s') or 0:.1f}", *cells)
    return table


def cell(value, missing: str = "") -> str:
    """One number as every table shows it (the run's summary, report.md, the bench reports): counts as integers,
    other numbers to 3 decimals, `missing` for a metric a stage does not have."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return missing
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else f"{value:.3f}"


def plot_training(metrics: list[dict], path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = defaultdict(list)
    for row in metrics:
        if row["name"] == "train/loss" and row["step"] is not None:
            curves[row["stage"]].append((row["step"], row["value"]))
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for stage, points in curves.items():
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], label=stage)
    ax.set(xlabel="optimizer step", ylabel="training loss", title="Training loss per stage")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def axis_groups(stages: list[dict], names: list[str]) -> list[list[str]]:
    """Metrics that share one y axis: every rate in [0, 1] together, each other metric (a reward-model score, a
    NLL, a log-prob) on an axis of its own, so no scale hides another."""
    values = {n: [s["metrics"][n] for s in stages if isinstance(s["metrics"].get(n), (int, float))] for n in names}
    rates = [n for n in names if values[n] and all(0 <= v <= 1 for v in values[n])]
    return ([rates] if rates else []) + [[n] for n in names if n not in rates and values[n]]


def plot_evaluations(stages: list[dict], path: Path) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    evals = [s for s in stages if any(k.startswith("eval/") for k in s["metrics"])]
    names = sorted({k for s in evals for k in s["metrics"] if k.startswith("eval/")})
    panels = axis_groups(evals, names)
    if not panels:
        return False
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.5, 2.2 + 1.6 * len(panels)), sharex=True, squeeze=False)
    for ax, group in zip(axes[:, 0], panels):
        for name in group:
            xs = [i for i, s in enumerate(evals) if isinstance(s["metrics"].get(name), (int, float))]
            ax.plot(xs, [evals[i]["metrics"][name] for i in xs], marker="o", label=name.removeprefix("eval/"))
        if all(0 <= v <= 1 for s in evals for n in group if isinstance(v := s["metrics"].get(n), (int, float))):
            ax.set_ylim(0, 1.05)  # the rates' panel
        ax.set_ylabel("held-out metric" if len(group) > 1 else group[0].removeprefix("eval/"), fontsize=8)
        ax.legend(fontsize=7)
    axes[0, 0].set_title("Evaluation per stage")
    axes[-1, 0].set_xticks(range(len(evals)), [s["name"] for s in evals], rotation=20, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    overview = run_overview(run_dir)
    state = read_json(run_dir / "run.json")
    shown = key_metrics(overview["stages"])
    lines = [
        f"# Run report: {overview['recipe']}",
        "",
        f"Run dir `{run_dir}`, status **{overview['status']}**, seed {state.get('seed')}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in state.get("versions", {}).items()),
        "",
        "| stage | status | wall s | " + " | ".join(shown) + " |",
        "|---|---|---|" + "---|" * len(shown),
    ]
    for stage in overview["stages"]:
        cells = [cell(stage["metrics"].get(m)) for m in shown]
        lines.append(
            f"| {stage['name']} | {stage['status']} | {stage['wall_s'] if stage['wall_s'] is not None else ''} | "
            + " | ".join(cells)
            + " |"
        )
    sources = measured_on(overview["stages"], shown)
    if sources:
        lines += ["", "Measured on:", ""] + [f"- {line}" for line in sources]
    for warning in warnings(overview["stages"]):
        lines += ["", f"**Warning:** {warning}"]
    for stage in overview["stages"]:
        if stage.get("stopped"):
            lines += [
                "",
                f"**Loop stopped early at `{stage['name']}`:** {stage['stopped']}. Its later stages did not "
                "run; stages after the loop used the iterations that finished.",
            ]
        if stage.get("rerun") in ("interrupted", "failed"):
            lines += [
                "",
                f"**`{stage['name']}` holds its last finished run's outputs:** a re-run {stage['rerun']} "
                f"({'; '.join(stage['rerun_reasons'])}), so `recipe.yaml` (the last command's recipe) is not what "
                f"made them; `{stage['name']}/stage.json` records what did. The same command resumes the re-run.",
            ]
    if plot_training(finished_rows(run_dir, read_metrics(run_dir)), run_dir / "training_loss.png"):
        lines += ["", "![training loss](training_loss.png)"]
    if plot_evaluations(overview["stages"], run_dir / "evaluation.png"):
        lines += ["", "![evaluation](evaluation.png)"]
    lines += [
        "",
        "Reproduce: `align run <recipe>` with the resolved recipe in `recipe.yaml` "
        f"(`align run {run_dir / 'recipe.yaml'}`).",
        "",
    ]
    out = run_dir / "report.md"
    tmp = run_dir / ".report.md.tmp"
    tmp.write_text("\n".join(lines))
    os.replace(tmp, out)
    return out
