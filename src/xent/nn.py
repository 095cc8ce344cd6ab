"""torch.nn.Module drop-ins: PyTorch's loss Modules over xent's losses.

Constructor arguments are PyTorch's (xent's extensions keyword-only); tensors
such as ``weight`` and ``pos_weight`` are registered buffers, so they are in
``state_dict`` and move with ``.to()``. This module imports torch; ``import xent``
does not load it.

>>> import torch, xent.nn
>>> loss = xent.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 1.0]))
>>> x = torch.tensor([[0.5, -1.0]], requires_grad=True)
>>> loss(x, torch.tensor([[1.0, 0.0]])).backward()
>>> x.grad
tensor([[-0.3775,  0.1345]])
"""

from __future__ import annotations

from typing import Any

import torch

from . import functional as F
from ._checks import (
    KL_DIV_REDUCTIONS,
    TORCH_REDUCTIONS,
    check_bool,
    check_choice,
    check_gamma,
    check_label_smoothing,
    legacy_reduction,
    torch_reduction,
)

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "KLDivLoss",
    "MultiLabelSoftMarginLoss",
    "NLLLoss",
    "SigmoidFocalLoss",
    "SoftMarginLoss",
]


class _Loss(torch.nn.Module):
    """Resolves PyTorch's reduction (legacy size_average/reduce included) once."""

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.reduction = torch_reduction(size_average, reduce, reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(
        self,
        weight: torch.Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.weight: torch.Tensor | None


class BCELoss(_WeightedLoss):
    """``torch.nn.BCELoss`` over :func:`xent.binary_cross_entropy` ('mean' divides by the
    number of elements, or of non-ignored ones with ``ignore_index``)."""

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        *,
        label_smoothing: float = 0.0,
        ignore_index: float | None = None,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.ignore_index = ignore_index

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy(
            input,
            target,
            weight=self.weight,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
            ignore_index=self.ignore_index,
        )


class BCEWithLogitsLoss(_Loss):
    """``torch.nn.BCEWithLogitsLoss`` over :func:`xent.binary_cross_entropy_with_logits`."""

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: torch.Tensor | None = None,
        *,
        label_smoothing: float = 0.0,
        ignore_index: float | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.weight: torch.Tensor | None
        self.pos_weight: torch.Tensor | None
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.ignore_index = ignore_index

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(
            input,
            target,
            self.weight,
            reduction=self.reduction,
            pos_weight=self.pos_weight,
            label_smoothing=self.label_smoothing,
            ignore_index=self.ignore_index,
        )


class CrossEntropyLoss(_WeightedLoss):
    """``torch.nn.CrossEntropyLoss`` over :func:`xent.cross_entropy` ('mean' divides by
    the sum of the weights of the non-ignored targets; by the number of samples for
    probability targets)."""

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = check_label_smoothing(label_smoothing)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """``torch.nn.NLLLoss`` over :func:`xent.nll_loss`."""

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.nll_loss(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class SigmoidFocalLoss(torch.nn.Module):
    """torchvision's ``sigmoid_focal_loss`` as a Module (torchvision has none)."""

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none") -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.gamma = check_gamma(gamma)
        self.reduction = check_choice("reduction", reduction, ("none", "mean", "sum"))

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.sigmoid_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


class _TorchLoss(torch.nn.Module):
    """PyTorch's ``_Loss`` exactly: legacy size_average/reduce resolved at construction
    (with its warning), the reduction string kept as given (so 'elementwise_mean' and
    kl_div's 'mean' warn at each call, as in PyTorch), no extra repr. Unlike PyTorch,
    an invalid reduction is refused here rather than at the first call."""

    _reductions: tuple[str, ...] = (*TORCH_REDUCTIONS, "elementwise_mean")

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = legacy_reduction(size_average, reduce)
        self.reduction = check_choice("reduction", reduction, self._reductions)


class KLDivLoss(_TorchLoss):
    """``torch.nn.KLDivLoss`` over :func:`xent.kl_div` ('mean' divides by the number of
    elements, with PyTorch's warning; 'batchmean' by the batch size)."""

    _reductions = (*KL_DIV_REDUCTIONS, "elementwise_mean")

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = check_bool(log_target, "log_target")

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class MultiLabelSoftMarginLoss(_TorchLoss):
    """``torch.nn.MultiLabelSoftMarginLoss`` over :func:`xent.multilabel_soft_margin_loss`
    ('mean' divides by the number of samples; each is a mean over the classes)."""

    _reductions = TORCH_REDUCTIONS

    def __init__(
        self,
        weight: torch.Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.weight: torch.Tensor | None

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.multilabel_soft_margin_loss(
            input, target, weight=self.weight, reduction=self.reduction
        )


class SoftMarginLoss(_TorchLoss):
    """``torch.nn.SoftMarginLoss`` over :func:`xent.soft_margin_loss` ('mean' divides by
    the number of elements)."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


def __getattr__(name: str) -> Any:  # pragma: no cover - a friendlier AttributeError
    raise AttributeError(f"xent.nn has no {name!r}; it provides {', '.join(__all__)}")
