"""The report: its figures from the merged totals, the JSON and text formats, and the
reliability diagram."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from ._batches import BadInput
from ._job import (
    BIN_EDGES,
    BIN_ROWS,
    BIN_WEIGHT,
    BIN_WLABELS,
    BIN_WPREDS,
    LOSS,
    N_BINS,
    POSITIVES,
    REASONS,
    WEIGHT,
    WLABELS,
    WPREDS,
    Job,
    Totals,
)

PLOT_SIZE = (8.0, 6.0)  # inches, at PLOT_DPI: an 800 x 600 PNG
PLOT_DPI = 100
PLOT_BINS = 20
# What --plot writes, by extension: formats matplotlib writes itself (Agg, PDF, SVG, PS
# backends and Pillow, a matplotlib dependency); pgf needs LaTeX and is left out.
PLOT_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")


def plot_format(path: str) -> str:
    """The format of a --plot path, from its extension; BadInput if matplotlib cannot
    write it (checked before any row is read, without importing matplotlib)."""
    ext = os.path.splitext(os.path.basename(path))[1].lower().removeprefix(".")
    if ext not in PLOT_FORMATS:
        got = f"'.{ext}'" if ext else "no extension"
        listed = ", ".join(f".{f}" for f in PLOT_FORMATS)
        raise BadInput(f"--plot {path}: has {got}; name a file ending in one of {listed}")
    return ext


# --------------------------------------------------------------------------- report

REPORT_KEYS = (
    "loss",
    "count",
    "positives",
    "base_rate",
    "normalized_entropy",
    "mean_prediction",
    "calibration",
    "seconds",
)


def _divide(a: float, b: float) -> float:
    return a / b if b != 0 else math.nan


def entropy(rate: float) -> float:
    """-(r log r + (1 - r) log(1 - r)) in nats, 0 log 0 = 0; nan outside [0, 1]."""
    if not 0.0 <= rate <= 1.0:
        return math.nan
    return -sum(q * math.log(q) for q in (rate, 1.0 - rate) if q > 0)


def report(total: Totals, job: Job, seconds: float) -> dict[str, Any]:
    """The figures of the report, under the keys of ``--format json``."""
    weight = total.value(WEIGHT)
    loss_sum = total.value(LOSS)
    mean_loss = _divide(loss_sum, weight)
    base_rate = _divide(total.value(WLABELS), weight)
    mean_prediction = _divide(total.value(WPREDS), weight)
    positives = total.value(POSITIVES)
    return {
        "loss": loss_sum if job.reduction == "sum" else mean_loss,
        "count": total.count,
        "positives": int(positives) if float(positives).is_integer() else positives,
        "base_rate": base_rate,
        "normalized_entropy": _divide(mean_loss, entropy(base_rate)),
        "mean_prediction": mean_prediction,
        "calibration": _divide(mean_prediction, base_rate),
        "seconds": seconds,
    }


def skipped_summary(total: Totals) -> str | None:
    counts = [(int(n), reason) for n, reason in zip(total.skipped, REASONS, strict=True) if n]
    if not counts:
        return None
    listed = ", ".join(f"{n:,} {reason}" for n, reason in counts)
    return f"skipped {sum(n for n, _ in counts):,} rows: {listed}"


def format_json(values: dict[str, Any]) -> str:
    """Exactly the report keys; nan and infinities (not JSON) become null."""
    clean = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()
    }
    return json.dumps(clean, allow_nan=False)


def si(value: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.1f}{suffix}"
    return f"{value:.0f}"


def format_text(values: dict[str, Any], total: Totals, job: Job, files: int) -> str:
    def number(v: Any) -> str:
        if isinstance(v, int):
            return f"{v:,}"
        return "nan" if math.isnan(v) else f"{v:.6g}"

    weighted = ", weighted" if job.weight else ""
    rate = _divide(values["count"] + int(total.skipped.sum()), values["seconds"])
    lines = [
        (f"loss ({job.reduction}{weighted})", number(values["loss"])),
        ("count", number(values["count"])),
        ("positives", number(values["positives"])),
        ("base rate", number(values["base_rate"])),
        ("normalized entropy", number(values["normalized_entropy"])),
        ("mean prediction", number(values["mean_prediction"])),
        ("calibration", number(values["calibration"])),
        ("rows/s", f"{si(rate)} ({values['seconds']:.3g} s, {files} file{'s' * (files != 1)})"),
    ]
    summary = skipped_summary(total)
    if summary is not None:
        lines.append(("skipped", summary.removeprefix("skipped ")))
    return "\n".join(f"{k:<23}{v}" for k, v in lines)


def reliability_bins(bins: np.ndarray, target: int = PLOT_BINS) -> list[dict[str, float]]:
    """The fine histogram merged into about `target` bins of equal weight (quantile-like,
    so rare positives still get several points): predicted and observed rate, rows."""
    total = bins[BIN_WEIGHT].sum()
    groups: list[tuple[int, int, np.ndarray]] = []  # fine bins [lo, hi), their sums
    lo = 0
    for hi in range(1, N_BINS + 1):
        acc = bins[:, lo:hi].sum(axis=1)
        if acc[BIN_ROWS] and (acc[BIN_WEIGHT] >= total / target or hi == N_BINS):
            groups.append((lo, hi, acc))
            lo = hi
    if len(groups) > 1 and groups[-1][2][BIN_WEIGHT] < total / target / 2:
        (first, _, a), (_, last, b) = groups[-2:]  # a small remainder joins its neighbour
        groups[-2:] = [(first, last, a + b)]
    edges = np.concatenate([[0.0], BIN_EDGES, [1.0]])
    return [
        {
            "low": float(edges[lo]),
            "high": float(edges[hi]),
            "predicted": _divide(acc[BIN_WPREDS], acc[BIN_WEIGHT]),
            "observed": _divide(acc[BIN_WLABELS], acc[BIN_WEIGHT]),
            "rows": float(acc[BIN_ROWS]),
        }
        for lo, hi, acc in groups
    ]


def plot_reliability(path: str, total: Totals, values: dict[str, Any]) -> None:
    """Reliability diagram: observed vs predicted rate per bin, and rows per bin."""
    weight = total.value(WEIGHT)
    if total.count and not (math.isfinite(weight) and weight > 0):
        raise BadInput(
            f"--plot {path}: the {total.count:,} rows scored have a total weight of {weight:g}, "
            "so no rate can be plotted; check --weight-col, or drop --plot"
        )
    fmt = plot_format(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = reliability_bins(total.bins if total.bins is not None else np.zeros((4, N_BINS)))
    points = [b for b in points if math.isfinite(b["predicted"]) and math.isfinite(b["observed"])]
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=PLOT_SIZE, dpi=PLOT_DPI, sharex=True, height_ratios=(3, 1)
    )
    try:
        predicted = [b["predicted"] for b in points]
        observed = [b["observed"] for b in points]
        high = max([*predicted, *observed, 1e-3]) * 1.05
        high = min(high, 1.0)
        top.plot([0, high], [0, high], color="0.6", linestyle="--", label="perfectly calibrated")
        top.plot(predicted, observed, marker="o", label="observed rate per bin")
        top.set_xlim(0, high)
        top.set_ylim(0, high)
        top.set_ylabel("observed positive rate")
        top.legend(loc="upper left")
        top.set_title(
            f"{values['count']:,} rows   loss {values['loss']:.4g}   "
            f"NE {values['normalized_entropy']:.4g}   calibration {values['calibration']:.4g}"
        )
        lows = [b["low"] for b in points]
        widths = [min(b["high"], high) - b["low"] for b in points]
        bottom.bar(lows, [b["rows"] for b in points], width=widths, align="edge", edgecolor="white")
        bottom.set_xlabel("mean predicted probability")
        bottom.set_ylabel("rows")
        fig.savefig(path, dpi=PLOT_DPI, format=fmt)  # exactly `path`, no suffix added
    except OSError as e:
        raise BadInput(f"--plot {path}: cannot write ({e.strerror or e})") from None
    finally:
        plt.close(fig)
