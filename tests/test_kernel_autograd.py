"""Torch tensors that require grad go through the kernels too: the kernel's gradient is
autograd's backward (``KernelLossBackward``), double backward differentiates the
reference. Oracles: torch.nn.functional in float64 (and torchvision's focal formula
written in torch), and gradgradcheck's finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import xent
from kernel_helpers import extension

DTYPES = ["float32", "float64"]
REDUCTIONS = ["none", "mean", "sum"]
KERNEL_BACKWARD = "KernelLossBackward"


def focal_oracle(torch, x, y, *, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss's formula (no torchvision CPU wheel here)."""
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = (alpha * y + (1 - alpha) * (1 - y)) * ce * (1 - p_t) ** gamma
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def make_case(torch, name, dtype, seed=0):
    """(xent loss of x, float64 oracle loss of x, x in `dtype`) for one case."""
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(seed)
    dt = getattr(torch, dtype)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    def rand(*shape):
        return torch.rand(*shape, generator=gen, dtype=torch.float64)

    def index(c, *shape):
        t = torch.randint(0, c, shape, generator=gen)
        t.view(-1)[::5] = -100  # some ignored positions
        return t

    def cast(options):  # xent's operands in `dtype`, the oracle's stay float64
        floating = lambda v: isinstance(v, torch.Tensor) and v.is_floating_point()  # noqa: E731
        return {k: v.to(dt) if floating(v) else v for k, v in options.items()}

    def pair(xent_fn, torch_fn, x, **operands):
        mine = cast(operands)
        return (
            lambda a, **k: xent_fn(a, **mine, **k),
            lambda a, **k: torch_fn(a, **operands, **k),
            x.to(dt),
        )

    if name == "bce_with_logits":
        return pair(
            xent.binary_cross_entropy_with_logits,
            F.binary_cross_entropy_with_logits,
            randn(6, 9) * 3,
            target=rand(6, 9),
            weight=rand(9),
            pos_weight=rand(9) + 0.5,
        )
    if name == "bce_with_logits_full_weight":
        return pair(
            xent.binary_cross_entropy_with_logits,
            F.binary_cross_entropy_with_logits,
            randn(6, 9) * 3,
            target=rand(6, 9),
            weight=rand(6, 9),
        )
    if name == "bce_probabilities":
        return pair(
            xent.binary_cross_entropy,
            F.binary_cross_entropy,
            rand(6, 9) * 0.98 + 0.01,
            target=rand(6, 9),
            weight=rand(9),
        )
    if name == "sigmoid_focal":
        return pair(
            lambda x, target, **k: xent.sigmoid_focal_loss(x, target, **k),
            lambda x, target, **k: focal_oracle(torch, x, target, **k),
            randn(6, 9) * 3,
            target=(rand(6, 9) > 0.5).double(),
        )
    if name == "cross_entropy":
        return pair(
            xent.cross_entropy,
            F.cross_entropy,
            randn(8, 7) * 3,
            target=index(7, 8),
            weight=rand(7) + 0.1,
            label_smoothing=0.1,
        )
    if name == "cross_entropy_unbatched":
        return pair(xent.cross_entropy, F.cross_entropy, randn(7) * 3, target=torch.tensor(3))
    if name == "cross_entropy_k_dimensional":
        return pair(
            xent.cross_entropy,
            F.cross_entropy,
            randn(3, 5, 4, 2) * 3,
            target=index(5, 3, 4, 2),
            weight=rand(5) + 0.1,
            label_smoothing=0.2,
        )
    raise AssertionError(name)


CASES = [
    "bce_with_logits",
    "bce_with_logits_full_weight",
    "bce_probabilities",
    "sigmoid_focal",
    "cross_entropy",
    "cross_entropy_unbatched",
    "cross_entropy_k_dimensional",
]


def upstream(torch, loss, seed=1):
    """A gradient to pass backward: random for 'none', 1.5 for a reduced loss."""
    gen = torch.Generator().manual_seed(seed)
    if loss.ndim == 0:
        return torch.tensor(1.5, dtype=loss.dtype)
    return torch.rand(loss.shape, generator=gen, dtype=torch.float64).to(loss.dtype) + 0.5


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
def test_backward_is_the_kernels_and_matches_torch(torch, case, dtype, reduction):
    extension()
    fn, oracle, x0 = make_case(torch, case, dtype)
    x = x0.clone().requires_grad_()
    loss = fn(x, reduction=reduction)
    assert type(loss.grad_fn).__name__ == KERNEL_BACKWARD
    g = upstream(torch, loss)
    loss.backward(g)

    x64 = x0.double().requires_grad_()
    want = oracle(x64, reduction=reduction)
    want.backward(g.double())
    eps = float(np.finfo(dtype).eps)
    assert loss.dtype == x0.dtype and x.grad.dtype == x0.dtype
    np.testing.assert_allclose(
        loss.detach().numpy(), want.detach().numpy(), rtol=64 * eps, atol=64 * eps
    )
    np.testing.assert_allclose(x.grad.numpy(), x64.grad.numpy(), rtol=64 * eps, atol=64 * eps)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES)
def test_double_backward_against_finite_differences(torch, case, reduction):
    """create_graph=True differentiates the reference: gradgradcheck compares the
    second derivatives (and gradcheck the first) with finite differences."""
    extension()
    fn, _, x0 = make_case(torch, case, "float64")
    x = x0.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a: fn(a, reduction=reduction), (x,))
    assert torch.autograd.gradgradcheck(lambda a: fn(a, reduction=reduction), (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASES)
def test_create_graph_gradient_and_hessian_vector_product_match_torch(torch, case, reduction):
    """gradgradcheck only checks that double backward agrees with the gradient it
    differentiates; this checks that gradient and a Hessian-vector product against
    torch's own (float64)."""
    extension()
    fn, oracle, x0 = make_case(torch, case, "float64")
    v = torch.rand(x0.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def grad_and_hvp(f):
        x = x0.clone().requires_grad_()
        loss = f(x, reduction=reduction)
        (grad,) = torch.autograd.grad(loss, x, upstream(torch, loss), create_graph=True)
        (hvp,) = torch.autograd.grad((grad * v).sum(), x)
        return grad.detach().numpy(), hvp.numpy()

    (grad, hvp), (want_grad, want_hvp) = grad_and_hvp(fn), grad_and_hvp(oracle)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-14)
    # torch's double backward of binary_cross_entropy divides by (p + 1e-12)^2 (1 - p +
    # 1e-12)^2 (derivatives.yaml), xent's by (p (1 - p))^2: 2e-12 (1/p + 1/(1-p)) apart
    rtol = 1e-10
    if case == "bce_probabilities":
        rtol += float((2e-12 / x0 + 2e-12 / (1 - x0)).max())
    np.testing.assert_allclose(hvp, want_hvp, rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("case", ["bce_with_logits", "cross_entropy"])
def test_retained_graph_backward_twice(torch, case):
    """The saved gradient is handed to autograd once; a second backward recomputes it."""
    extension()
    fn, oracle, x0 = make_case(torch, case, "float64")
    x = x0.clone().requires_grad_()
    loss = fn(x, reduction="mean")
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    x64 = x0.clone().requires_grad_()
    oracle(x64, reduction="mean").backward()
    np.testing.assert_allclose(first.numpy(), x64.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x64.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_half_input_reaches_the_kernel_in_float32(torch):
    extension()
    gen = torch.Generator().manual_seed(0)
    x0 = (torch.randn(64, 33, generator=gen) * 3).half()
    y = torch.rand(64, 33, generator=gen).half()
    x = x0.clone().requires_grad_()
    loss = xent.binary_cross_entropy_with_logits(x, y)
    loss.backward()
    assert loss.dtype == torch.float16 and x.grad.dtype == torch.float16
    x64 = x0.double().requires_grad_()
    torch.nn.functional.binary_cross_entropy_with_logits(x64, y.double()).backward()
    np.testing.assert_allclose(x.grad.double().numpy(), x64.grad.numpy(), rtol=2e-3, atol=1e-6)


def test_target_that_requires_grad_takes_the_reference(torch):
    """The kernel differentiates in the input only: a target (or weight) that needs a
    gradient sends the call to the reference, whose autograd covers it."""
    extension()
    gen = torch.Generator().manual_seed(0)
    x0, y0 = (
        torch.randn(5, 4, generator=gen, dtype=torch.float64),
        torch.rand(5, 4, generator=gen, dtype=torch.float64),
    )
    x, y = x0.clone().requires_grad_(), y0.clone().requires_grad_()
    loss = xent.binary_cross_entropy_with_logits(x, y)
    assert type(loss.grad_fn).__name__ != KERNEL_BACKWARD
    loss.backward()
    xt, yt = x0.clone().requires_grad_(), y0.clone().requires_grad_()
    torch.nn.functional.binary_cross_entropy_with_logits(xt, yt).backward()
    np.testing.assert_allclose(y.grad.numpy(), yt.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_value_and_grad_of_a_watched_input_keeps_its_history(torch):
    """value_and_grad on a tensor autograd watches returns the reference's gradient,
    which has a history (the kernel's would not)."""
    extension()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.rand(4, 3, dtype=torch.float64)
    _loss, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(x, y)
    assert grad.requires_grad
    (second,) = torch.autograd.grad(grad.sum(), x)
    s = torch.sigmoid(x.detach())
    np.testing.assert_allclose(second.numpy(), (s * (1 - s) / x.numel()).numpy(), rtol=1e-12)


def test_training_with_xent_nn_follows_torch_nn(torch):
    """A few SGD steps of a linear classifier with xent.nn.CrossEntropyLoss (on the
    kernels) and with torch.nn.CrossEntropyLoss end at the same weights."""
    extension()
    import xent.nn  # needs torch: imported once the fixture has it

    gen = torch.Generator().manual_seed(0)
    features = torch.randn(256, 20, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 5, (256,), generator=gen)
    weights = []
    for criterion in (
        xent.nn.CrossEntropyLoss(label_smoothing=0.1),
        torch.nn.CrossEntropyLoss(label_smoothing=0.1),
    ):
        torch.manual_seed(1)
        model = torch.nn.Linear(20, 5, dtype=torch.float64)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(20):
            optimizer.zero_grad()
            loss = criterion(model(features), labels)
            loss.backward()
            optimizer.step()
        weights.append(model.weight.detach().numpy())
        if isinstance(criterion, xent.nn.CrossEntropyLoss):
            assert type(loss.grad_fn).__name__ == KERNEL_BACKWARD
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-10, atol=1e-12)
