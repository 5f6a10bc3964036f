"""What a search shows and leaves behind: a line per trial while it runs, then the best trials
as a table, every trial as CSV and JSON, and a plot of the objective per trial and per
hyperparameter."""

import csv
import json
import math
from pathlib import Path

from nnkit.saving import atomic_path, write_json
from nnkit.tuning.search_space import active_values

TRIAL_TIME_FILE = "nnkit_trial.json"
BEST_SHOWN = 5


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def active_hyperparameters(trial, dimensions):
    """{key: value} of the trial's searched keys, in the config's types (None where a condition
    does not hold)."""
    active = active_values(trial.hyperparameters, dimensions)
    return {dimension.key: active.get(dimension.key) for dimension in dimensions}


def failure_reason(text):
    """The last line of a traceback KerasTuner stored or raised, without the exception's path."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1].split("FailedTrialError: ", 1)[-1].strip()


def trial_line(trial, best_score, seconds, dimensions):
    """One line of the live table: trial, status, objective (best so far), time, hyperparameters."""
    status = str(trial.status).lower()
    score = f"{_format(trial.score)} ({_format(best_score)})" if trial.score is not None else f"- ({_format(best_score)})"
    values = " ".join(f"{key}={_format(value)}" for key, value in active_hyperparameters(trial, dimensions).items()
                      if value is not None)
    epochs = trial.hyperparameters.values.get("tuner/epochs")
    values += f" [epochs {epochs}]" if epochs else ""
    failure = f"  ! {failure_reason(trial.message)}" if status != "completed" else ""
    return f"{trial.trial_id:>6}  {status:<9}  {score:>26}  {seconds:>6.0f}s  {values}{failure}"


def trial_rows(oracle, dimensions, directory):
    """Every trial of the search as a plain dict, in the order they were started."""
    rows = []
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        timing = Path(directory) / f"trial_{trial_id}" / TRIAL_TIME_FILE
        rows.append({
            "trial": trial_id,
            "status": str(trial.status).lower(),
            "objective": trial.score,
            "best_epoch": trial.best_step,
            "epochs": trial.hyperparameters.values.get("tuner/epochs"),
            "seconds": json.loads(timing.read_text())["seconds"] if timing.is_file() else None,
            "hyperparameters": active_hyperparameters(trial, dimensions),
            "message": failure_reason(trial.message) if str(trial.status).lower() != "completed" else "",
        })
    return rows


def best_rows(rows, objective):
    scored = [row for row in rows if row["objective"] is not None and math.isfinite(row["objective"])]
    return sorted(scored, key=lambda row: row["objective"], reverse=objective.direction == "max")


def write_reports(directory, rows, objective, dimensions):
    """trials.csv, trials.json and trials.png in `directory`; prints the best trials; returns them."""
    directory = Path(directory)
    ranked = best_rows(rows, objective)
    keys = [dimension.key for dimension in dimensions]
    with atomic_path(directory / "trials.csv") as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["trial", "status", objective.name, "best_epoch", "epochs", "seconds", *keys, "message"])
            for row in rows:
                writer.writerow([row["trial"], row["status"], row["objective"], row["best_epoch"], row["epochs"],
                                 row["seconds"], *(row["hyperparameters"][key] for key in keys), row["message"]])
    write_json({"objective": {"name": objective.name, "direction": objective.direction},
                "best_trial": ranked[0]["trial"] if ranked else None, "trials": rows}, directory / "trials.json")
    plot_trials(rows, objective, dimensions, directory / "trials.png")
    print(f"\nBest trials by {objective.name} ({objective.direction}):")
    header = ["trial", objective.name, "seconds", *keys]
    table = [header] + [[row["trial"], _format(row["objective"]), _format(row["seconds"]),
                         *(_format(row["hyperparameters"][key]) for key in keys)] for row in ranked[:BEST_SHOWN]]
    widths = [max(len(str(line[column])) for line in table) for column in range(len(header))]
    for line in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())
    counts = {status: sum(row["status"] == status for row in rows) for status in {row["status"] for row in rows}}
    print(f"{len(rows)} trials ({', '.join(f'{count} {status}' for status, count in sorted(counts.items()))}); "
          f"all in {directory / 'trials.csv'}, plotted in {directory / 'trials.png'}")
    return ranked[:BEST_SHOWN]


def plot_trials(rows, objective, dimensions, path):
    """The objective per trial (with the best so far) and against each hyperparameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 + len(dimensions)
    columns = min(3, panels)
    figure, axes = plt.subplots(-(-panels // columns), columns, figsize=(4.5 * columns, 3.4 * -(-panels // columns)),
                                squeeze=False)
    scored = [(index, row) for index, row in enumerate(rows) if row["objective"] is not None]
    first = axes[0][0]
    first.plot([index + 1 for index, _ in scored], [row["objective"] for _, row in scored], "o", label="trial")
    best, running = [], None
    for _, row in scored:
        better = running is None or (row["objective"] > running if objective.direction == "max" else row["objective"] < running)
        running = row["objective"] if better else running
        best.append(running)
    first.plot([index + 1 for index, _ in scored], best, "-", drawstyle="steps-post", label="best so far")
    first.set(xlabel="trial", ylabel=objective.name, title="objective per trial")
    first.legend()
    for panel, dimension in enumerate(dimensions, start=1):
        axis = axes[panel // columns][panel % columns]
        points = [(row["hyperparameters"][dimension.key], row["objective"]) for _, row in scored
                  if row["hyperparameters"][dimension.key] is not None]
        if dimension.kind == "choice":
            labels = [str(value) for value in dimension.values]
            axis.plot([labels.index(str(value)) for value, _ in points], [score for _, score in points], "o")
            axis.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 4 else 0)
        else:
            axis.plot([value for value, _ in points], [score for _, score in points], "o")
            if dimension.sampling == "log":
                axis.set_xscale("log")
        axis.set(xlabel=dimension.key, ylabel=objective.name)
    for panel in range(panels, axes.size):
        axes[panel // columns][panel % columns].axis("off")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=90)
    plt.close(figure)
