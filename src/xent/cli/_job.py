"""What ``xent eval`` computes: the :class:`Job`, each row's loss, and the float64 sums
of a batch (:class:`Totals`) that both engines merge with :func:`combine`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import _binary
from .._array import namespace, sigmoid

DEFAULT_BATCH_ROWS = 1 << 18
SUB_BATCH_ROWS = 1 << 16  # rows scored at a time: the temporaries stay in cache


# --------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class Job:
    """What to compute: the columns and the loss, as the command line asked."""

    input: str
    target: str
    weight: str | None = None
    from_logits: bool = False
    pos_weight: float | None = None
    label_smoothing: float = 0.0
    focal_gamma: float | None = None
    focal_alpha: float = 0.25
    reduction: str = "mean"
    skip_bad_rows: bool = False
    batch_rows: int = DEFAULT_BATCH_ROWS
    bins: bool = False  # collect the reliability histogram (for --plot)
    per_row: bool = False  # keep each row's loss (for --per-row)

    @property
    def columns(self) -> dict[str, str]:
        """Role -> column name, in the order the checks report them."""
        roles = {"input": self.input, "target": self.target}
        if self.weight is not None:
            roles["weight"] = self.weight
        return roles


def elementwise_loss(job: Job, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's loss (unweighted) from the binary family of xent, in x's dtype."""
    xp = namespace(x)
    if job.focal_gamma is not None:
        y = _binary.smooth_targets(y, job.label_smoothing)
        loss, _ = _binary.sigmoid_focal_loss(
            xp, x, y, alpha=job.focal_alpha, gamma=job.focal_gamma, reduction="none"
        )
    elif job.from_logits:
        pos_weight = None if job.pos_weight is None else xp.asarray(job.pos_weight, dtype=x.dtype)
        loss, _ = _binary.binary_cross_entropy_with_logits(
            xp, x, y, pos_weight=pos_weight, label_smoothing=job.label_smoothing, reduction="none"
        )
    else:
        loss, _ = _binary.binary_cross_entropy(
            xp, x, y, label_smoothing=job.label_smoothing, reduction="none"
        )
    return loss


# --------------------------------------------------------------------------- sums

# The float64 sums each batch contributes; "weight" is the row count when unweighted.
SUMS = ("positives", "weight", "weighted_labels", "weighted_predictions", "loss")
POSITIVES, WEIGHT, WLABELS, WPREDS, LOSS = range(len(SUMS))

# Why a row can be bad, in the order a row with several problems is counted.
REASONS = (
    "missing value",
    "unparseable value",
    "NaN prediction",
    "prediction outside [0, 1]",
    "label outside [0, 1]",
    "invalid weight",
    "malformed CSV line",
)
MISSING, UNPARSEABLE, NAN_PREDICTION, PREDICTION_RANGE, LABEL, WEIGHT_BAD, MALFORMED = range(
    len(REASONS)
)

# Reliability histogram: fine bins, uniform in log-odds over [-10, 10] plus two open
# tails; the plot merges them into about _report.PLOT_BINS bins of equal weight.
BIN_LOGITS = np.linspace(-10.0, 10.0, 201)
BIN_EDGES = 1.0 / (1.0 + np.exp(-BIN_LOGITS))  # in probability, float64
N_BINS = len(BIN_EDGES) + 1
BIN_ROWS, BIN_WEIGHT, BIN_WPREDS, BIN_WLABELS = range(4)


@dataclass
class Totals:
    """Mergeable partial results: row count, compensated float64 sums, skipped rows.

    ``sums + compensation`` is the running value of each of :data:`SUMS`.
    """

    count: int = 0
    sums: np.ndarray = field(default_factory=lambda: np.zeros(len(SUMS)))
    compensation: np.ndarray = field(default_factory=lambda: np.zeros(len(SUMS)))
    skipped: np.ndarray = field(default_factory=lambda: np.zeros(len(REASONS), dtype=np.int64))
    bins: np.ndarray | None = None  # (4, N_BINS): rows, sum w, sum w p, sum w y

    def to_vector(self) -> np.ndarray:
        """Everything as one float64 vector (exact: counts stay below 2**53)."""
        bins = [] if self.bins is None else [self.bins.ravel()]
        head = [[self.count], self.sums, self.compensation, self.skipped]
        return np.concatenate([np.asarray(a, dtype=np.float64) for a in head + bins])

    @classmethod
    def from_vector(cls, vector: np.ndarray) -> Totals:
        k, r = len(SUMS), len(REASONS)
        bins = vector[1 + 2 * k + r :]
        return cls(
            count=int(vector[0]),
            sums=vector[1 : 1 + k].copy(),
            compensation=vector[1 + k : 1 + 2 * k].copy(),
            skipped=vector[1 + 2 * k : 1 + 2 * k + r].astype(np.int64),
            bins=bins.reshape(4, N_BINS).copy() if len(bins) else None,
        )

    def value(self, i: int) -> float:
        s, c = float(self.sums[i]), float(self.compensation[i])
        return s + c if math.isfinite(s) else s


def combine(a: Totals, b: Totals) -> Totals:
    """a + b, the one merge of both engines (batches and Dask partitions alike).

    Neumaier's compensated addition: the rounding error of each float64 addition is
    kept in ``compensation``, so the totals do not depend on how rows were grouped.
    """
    with np.errstate(invalid="ignore"):  # inf - inf in the error term of infinite sums
        total = a.sums + b.sums
        error = np.where(
            np.abs(a.sums) >= np.abs(b.sums), (a.sums - total) + b.sums, (b.sums - total) + a.sums
        )
        error = np.where(np.isfinite(error), error, 0.0)
    bins = a.bins if b.bins is None else b.bins if a.bins is None else a.bins + b.bins
    return Totals(
        a.count + b.count,
        total,
        a.compensation + b.compensation + error,
        a.skipped + b.skipped,
        bins,
    )


def combine_all(parts: Sequence[Totals]) -> Totals:
    total = Totals()
    for part in parts:
        total = combine(total, part)
    return total


def _sum64(a: np.ndarray) -> float:
    return float(np.sum(a, dtype=np.float64))


def score(
    job: Job, x: np.ndarray, y: np.ndarray, w: np.ndarray | None
) -> tuple[Totals, np.ndarray | None]:
    """Totals of clean rows, and with ``job.per_row`` each row's loss (times its weight).

    The sums come from one pass of the compiled kernels when they are available, else
    from the reference; the reliability histogram (``job.bins``) from NumPy.
    """
    if job.focal_gamma is not None:
        op, gamma = "sigmoid_focal", job.focal_gamma
    else:
        op, gamma = ("bce_with_logits" if job.from_logits else "bce_probs"), 2.0
    fused = _binary.totals(
        op,
        x,
        y,
        weight=w,
        pos_weight=job.pos_weight,
        label_smoothing=job.label_smoothing,
        alpha=job.focal_alpha,
        gamma=gamma,
        per_row=job.per_row,
    )
    if fused is None:
        totals, loss = _score_reference(job, x, y, w)
    else:
        sums, loss = fused
        totals = Totals(count=len(x))
        totals.sums[POSITIVES] = sums.labels
        totals.sums[WEIGHT] = sums.weight
        totals.sums[WLABELS] = sums.weighted_labels
        totals.sums[WPREDS] = sums.weighted_predictions
        totals.sums[LOSS] = sums.loss
    if job.bins:
        totals.bins = _bins(job, x, y, w)
    return totals, loss


def _predictions(job: Job, x: np.ndarray) -> np.ndarray:
    return sigmoid(namespace(x), x) if job.from_logits else x


def _score_reference(
    job: Job, x: np.ndarray, y: np.ndarray, w: np.ndarray | None
) -> tuple[Totals, np.ndarray | None]:
    """The sums of :func:`score` with the array-API reference, a sub-batch at a time."""
    n = len(x)
    loss = np.empty(n, dtype=x.dtype) if job.per_row else None
    sums = np.zeros(len(SUMS))
    for start in range(0, n, SUB_BATCH_ROWS):
        part = slice(start, start + SUB_BATCH_ROWS)
        xs, ys = x[part], y[part]
        ls = elementwise_loss(job, xs, ys)
        p = _predictions(job, xs)
        positives = _sum64(ys)
        sums[POSITIVES] += positives
        if w is None:
            sums[WEIGHT] += len(xs)
            sums[WLABELS] += positives
            sums[WPREDS] += _sum64(p)
        else:
            ws = w[part]
            ls = ls * ws
            sums[WEIGHT] += _sum64(ws)
            sums[WLABELS] += _sum64(ws * ys)
            sums[WPREDS] += _sum64(ws * p)
        sums[LOSS] += _sum64(ls)
        if loss is not None:
            loss[part] = ls
    return Totals(count=n, sums=sums), loss


def _bins(job: Job, x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """The reliability histogram (4, N_BINS) of the rows."""
    bins = np.zeros((4, N_BINS))
    for start in range(0, len(x), SUB_BATCH_ROWS):
        part = slice(start, start + SUB_BATCH_ROWS)
        p, ys = _predictions(job, x[part]), y[part]
        index = np.searchsorted(BIN_EDGES, p, side="right")
        rows = np.bincount(index, minlength=N_BINS)
        bins[BIN_ROWS] += rows
        if w is None:
            bins[BIN_WEIGHT] += rows
            bins[BIN_WPREDS] += np.bincount(index, weights=p, minlength=N_BINS)
            bins[BIN_WLABELS] += np.bincount(index, weights=ys, minlength=N_BINS)
        else:
            ws = w[part]
            bins[BIN_WEIGHT] += np.bincount(index, weights=ws, minlength=N_BINS)
            bins[BIN_WPREDS] += np.bincount(index, weights=ws * p, minlength=N_BINS)
            bins[BIN_WLABELS] += np.bincount(index, weights=ws * ys, minlength=N_BINS)
    return bins
