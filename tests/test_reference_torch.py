"""The reference on torch tensors with the kernels off (XENT_DISABLE_KERNELS=1, the path
CUDA tensors take): the family function computes loss and analytic gradient in one
call and autograd receives that gradient (``KernelLossBackward``, as on the kernel
path); double backward differentiates the reference. Oracles: torch.nn.functional in
float64 (torchvision's focal formula written in torch), gradcheck's and
gradgradcheck's finite differences, mpmath for the tails, and the NumPy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xent
from test_binary_accuracy import LOGIT_GRID, mp_logits_loss, mp_probs_loss, ulp_distance
from test_kernel_autograd import KERNEL_BACKWARD, focal_oracle, make_case, upstream

DTYPES = ["float32", "float64"]
REDUCTIONS = ["none", "mean", "sum"]


@pytest.fixture(autouse=True)
def kernels_off(monkeypatch):
    monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")  # read at each call
    from xent._kernels import _state

    assert _state.extension() is None


def option_case(torch, name, dtype, seed=0):
    """(xent loss of x, float64 oracle loss of x, x) for each loss and option of issue 13's
    benchmark, beyond make_case's."""
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(seed)
    dt = getattr(torch, dtype)
    x = torch.randn(8, 7, generator=gen, dtype=torch.float64) * 3
    y = torch.rand(8, 7, generator=gen, dtype=torch.float64)
    hard = (y > 0.5).double()
    index = torch.randint(0, 7, (8,), generator=gen)
    ignored = index.clone()
    ignored[::3] = 2  # ignore_index=2 below: some positions ignored
    t = torch.softmax(torch.randn(8, 7, generator=gen, dtype=torch.float64), 1)
    w = torch.rand(7, generator=gen, dtype=torch.float64) + 0.1
    c = lambda v: v.to(dt)  # noqa: E731  (xent's operands in dtype, the oracle's float64)
    cases = {
        "bce_with_logits_plain": (
            lambda a, **k: xent.binary_cross_entropy_with_logits(a, c(hard), **k),
            lambda a, **k: F.binary_cross_entropy_with_logits(a, hard, **k),
        ),
        "bce_probabilities_plain": (
            lambda a, **k: xent.binary_cross_entropy(a, c(y), **k),
            lambda a, **k: F.binary_cross_entropy(a, y, **k),
        ),
        "sigmoid_focal_gamma_half": (
            lambda a, **k: xent.sigmoid_focal_loss(a, c(hard), alpha=0.4, gamma=0.5, **k),
            lambda a, **k: focal_oracle(torch, a, hard, alpha=0.4, gamma=0.5, **k),
        ),
        "sigmoid_focal_no_alpha": (  # alpha < 0: no alpha_t factor (torchvision's rule)
            lambda a, **k: xent.sigmoid_focal_loss(a, c(y), alpha=-1, gamma=1.5, **k),
            lambda a, **k: focal_oracle(torch, a, y, alpha=0.5, gamma=1.5, **k) * 2,
        ),
        "cross_entropy_plain": (
            lambda a, **k: xent.cross_entropy(a, index, **k),
            lambda a, **k: F.cross_entropy(a, index, **k),
        ),
        "cross_entropy_weight": (
            lambda a, **k: xent.cross_entropy(a, index, weight=c(w), **k),
            lambda a, **k: F.cross_entropy(a, index, weight=w, **k),
        ),
        "cross_entropy_smoothing": (
            lambda a, **k: xent.cross_entropy(a, index, label_smoothing=0.2, **k),
            lambda a, **k: F.cross_entropy(a, index, label_smoothing=0.2, **k),
        ),
        "cross_entropy_ignore_index": (
            lambda a, **k: xent.cross_entropy(a, ignored, ignore_index=2, **k),
            lambda a, **k: F.cross_entropy(a, ignored, ignore_index=2, **k),
        ),
        "cross_entropy_probabilities": (
            lambda a, **k: xent.cross_entropy(a, c(t), **k),
            lambda a, **k: F.cross_entropy(a, t, **k),
        ),
        "cross_entropy_probabilities_weight_smoothing": (
            lambda a, **k: xent.cross_entropy(a, c(t), weight=c(w), label_smoothing=0.1, **k),
            lambda a, **k: F.cross_entropy(a, t, weight=w, label_smoothing=0.1, **k),
        ),
    }
    mine, oracle = cases[name]
    first = torch.sigmoid(x) * 0.98 + 0.01 if "probabilities_plain" in name else x
    return mine, oracle, first.to(dt)


OPTION_CASES = [
    "bce_with_logits_plain",
    "bce_probabilities_plain",
    "sigmoid_focal_gamma_half",
    "sigmoid_focal_no_alpha",
    "cross_entropy_plain",
    "cross_entropy_weight",
    "cross_entropy_smoothing",
    "cross_entropy_ignore_index",
    "cross_entropy_probabilities",
    "cross_entropy_probabilities_weight_smoothing",
]
KERNEL_CASES = [
    "bce_with_logits",  # weight and pos_weight
    "bce_with_logits_full_weight",
    "bce_probabilities",  # weight
    "sigmoid_focal",
    "cross_entropy",  # weight, label smoothing, ignored positions
    "cross_entropy_unbatched",
    "cross_entropy_k_dimensional",
]
CASES = KERNEL_CASES + OPTION_CASES


def case(torch, name, dtype):
    return (option_case if name in OPTION_CASES else make_case)(torch, name, dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_backward_is_the_references_gradient_and_matches_torch(torch, name, dtype, reduction):
    """The fast path is taken (the loss's node is the kernel path's autograd Function,
    with the kernels off) and its gradient is torch's, in float32 and float64."""
    fn, oracle, x0 = case(torch, name, dtype)
    x = x0.clone().requires_grad_()
    loss = fn(x, reduction=reduction)
    assert type(loss.grad_fn).__name__ == KERNEL_BACKWARD
    g = upstream(torch, loss)
    loss.backward(g)
    x64 = x0.double().clone().requires_grad_()
    want = oracle(x64, reduction=reduction)
    want.backward(g.double())
    eps = float(np.finfo(dtype).eps)
    assert loss.dtype == x0.dtype and x.grad.dtype == x0.dtype
    np.testing.assert_allclose(
        loss.detach().numpy(), want.detach().numpy(), rtol=64 * eps, atol=64 * eps
    )
    np.testing.assert_allclose(x.grad.numpy(), x64.grad.numpy(), rtol=64 * eps, atol=64 * eps)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", CASES)
def test_gradient_and_double_backward_against_finite_differences(torch, name, reduction):
    fn, _, x0 = case(torch, name, "float64")
    x = x0.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a: fn(a, reduction=reduction), (x,))
    assert torch.autograd.gradgradcheck(lambda a: fn(a, reduction=reduction), (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", CASES)
def test_create_graph_gradient_and_hessian_vector_product_match_torch(torch, name, reduction):
    """Double backward keeps PyTorch's formulas: the gradient with a history and a
    Hessian-vector product equal torch's own (float64)."""
    fn, oracle, x0 = case(torch, name, "float64")
    v = torch.rand(x0.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)

    def grad_and_hvp(f):
        x = x0.clone().requires_grad_()
        loss = f(x, reduction=reduction)
        (grad,) = torch.autograd.grad(loss, x, upstream(torch, loss), create_graph=True)
        (hvp,) = torch.autograd.grad((grad * v).sum(), x)
        return grad.detach().numpy(), hvp.numpy()

    (grad, hvp), (want_grad, want_hvp) = grad_and_hvp(fn), grad_and_hvp(oracle)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-14)
    rtol = 1e-10  # torch's double backward of binary_cross_entropy: see test_kernel_autograd
    if name.startswith("bce_probabilities"):
        rtol += float((2e-12 / x0 + 2e-12 / (1 - x0)).max())
    np.testing.assert_allclose(hvp, want_hvp, rtol=rtol, atol=1e-13)


def test_retained_graph_recomputes_the_gradient(torch):
    fn, _, x0 = case(torch, "cross_entropy_probabilities", "float64")
    x = x0.clone().requires_grad_()
    loss = fn(x, reduction="mean")
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first.numpy(), rtol=1e-15)


def test_other_arguments_that_require_grad_take_autograd_through_the_ops(torch):
    """A target (or weight) that needs a gradient: autograd differentiates the reference
    op by op, and both gradients are torch's."""
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    y0 = torch.rand(5, 4, generator=gen, dtype=torch.float64)
    x, y = x0.clone().requires_grad_(), y0.clone().requires_grad_()
    loss = xent.binary_cross_entropy_with_logits(x, y)
    assert type(loss.grad_fn).__name__ != KERNEL_BACKWARD
    loss.backward()
    xt, yt = x0.clone().requires_grad_(), y0.clone().requires_grad_()
    torch.nn.functional.binary_cross_entropy_with_logits(xt, yt).backward()
    np.testing.assert_allclose(y.grad.numpy(), yt.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


SYNCS = {  # host synchronisations per forward call, at most: the value checks, once
    "bce_with_logits_plain": 0,
    "sigmoid_focal_gamma_half": 0,
    "cross_entropy_probabilities": 0,
    "bce_probabilities_plain": 1,  # input and target in [0, 1]
    "cross_entropy_plain": 1,  # class indices in [0, C)
    "cross_entropy_ignore_index": 1,
}


@pytest.mark.parametrize("name", list(SYNCS))
def test_host_synchronisations_per_call(torch, name):
    """No value read back to the host beyond the range check (aten._local_scalar_dense,
    what .item() and bool() dispatch to), and none in the backward on another device
    than the CPU (on the CPU, backward reads its 0-d upstream gradient, for free)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Reads(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._local_scalar_dense.default:
                Reads.count += 1
            return func(*args, **(kwargs or {}))

    fn, _, x0 = case(torch, name, "float32")
    x = x0.clone().requires_grad_()
    with Reads():
        loss = fn(x, reduction="mean")
    # at most: on the CPU the value checks may read the values through NumPy's view of
    # the tensor (_checks.check_values), which dispatches nothing
    assert Reads.count <= SYNCS[name]
    assert type(loss.grad_fn).__name__ == KERNEL_BACKWARD


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("y", [0.0, 1.0, 0.25, 0.5, 0.9])
def test_logits_loss_within_4_ulp_of_mpmath_on_torch(torch, dtype, y):
    x = LOGIT_GRID.astype(dtype)
    target = np.full_like(x, y)
    got = xent.binary_cross_entropy_with_logits(
        torch.from_numpy(x), torch.from_numpy(target), reduction="none"
    )
    want = np.array([mp_logits_loss(a, b) for a, b in zip(x, target, strict=True)])
    dist = ulp_distance(got.numpy(), want, dtype)
    assert dist.max() <= 4, f"worst {dist.max():.1f} ulp at x={x[dist.argmax()]}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_probs_loss_within_4_ulp_of_mpmath_on_torch(torch, dtype, y):
    p = np.concatenate(
        [np.linspace(0, 1, 401), np.logspace(-45, -1, 60), 1 - np.logspace(-16, -1, 40)]
    )
    p = np.clip(p, 0, 1).astype(dtype)
    target = np.full_like(p, y)
    got = xent.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(target), reduction="none")
    want = np.array([mp_probs_loss(a, b) for a, b in zip(p, target, strict=True)])
    assert ulp_distance(got.numpy(), want, dtype).max() <= 4


def numpy_and_torch(torch, fn, x, *others, **options):
    """(loss, gradient) of the NumPy reference and of the torch path through autograd."""
    ref_loss, ref_grad = xent.value_and_grad(fn)(x, *others, **options)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    loss = fn(xt, *(torch.from_numpy(o) for o in others), **options)
    assert type(loss.grad_fn).__name__ == KERNEL_BACKWARD
    loss.sum().backward()
    return (ref_loss, ref_grad), (loss.detach().numpy(), xt.grad.numpy())


@pytest.mark.parametrize("fn", ["binary_cross_entropy_with_logits", "sigmoid_focal_loss"])
def test_infinite_logits_as_the_numpy_reference(torch, fn):
    """x = +-inf: a term with a zero coefficient is 0 (torch: nan), the other infinite;
    gradients finite; a nan logit or target stays nan."""
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, 1e4, -1e4, np.nan, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, np.nan])
    (ref_loss, ref_grad), (loss, grad) = numpy_and_torch(torch, getattr(xent, fn), x, y)
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(ref_loss))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-15)
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(ref_grad))
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-15, atol=1e-300)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_rows_without_a_softmax_as_the_numpy_reference(torch, reduction):
    """nan for a kept row with a nan, +inf or only -inf logits (throughout its gradient);
    an ignored row gives 0 and gradient 0 whatever it holds; a -inf logit with
    probability 0 contributes 0 (torch: nan)."""
    x = np.array([[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [np.nan, 1.0, 2.0], [-np.inf, 0.0, 3.0]])
    x = np.concatenate([x, np.full((1, 3), -np.inf), [[0.5, -1.0, 2.0]]])
    y = np.array([1, 2, -100, 1, -100, 0])
    for kwargs in ({}, {"label_smoothing": 0.1}, {"weight": np.array([0.5, 2.0, 1.0])}):
        (ref_loss, ref_grad), (loss, grad) = numpy_and_torch(
            torch, xent.cross_entropy, x, y, reduction=reduction, **kwargs
        )
        np.testing.assert_array_equal(np.isnan(grad), np.isnan(ref_grad))
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-14)
    t = np.array([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]])
    xp_ = np.array([[-np.inf, 0.0, 1.0], [np.nan, 0.0, 1.0]])
    (ref_loss, ref_grad), (loss, grad) = numpy_and_torch(
        torch, xent.cross_entropy, xp_, t, reduction="none"
    )
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-14)
    assert np.isfinite(loss[0]) and np.isnan(loss[1])
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(ref_grad))


@pytest.mark.parametrize("name", ["bce_with_logits_plain", "cross_entropy_smoothing"])
def test_torch_func_grad_and_vmap_run_the_array_api_forms(torch, name):
    """torch.func transforms wrap the tensors: no autograd Function, no in-place forms;
    torch.func.grad gives torch's gradient and vmap the per-sample losses."""
    fn, oracle, x0 = case(torch, name, "float64")
    grad = torch.func.grad(lambda a: fn(a, reduction="sum"))(x0)
    x = x0.clone().requires_grad_()
    oracle(x, reduction="sum").backward()
    np.testing.assert_allclose(grad.numpy(), x.grad.numpy(), rtol=1e-12, atol=1e-15)
    y = torch.rand(x0.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    bce = xent.binary_cross_entropy_with_logits
    per_row = torch.func.vmap(lambda a, b: bce(a, b, reduction="sum"))(x0, y)
    want = torch.nn.functional.binary_cross_entropy_with_logits(x0, y, reduction="none")
    np.testing.assert_allclose(per_row.numpy(), want.sum(1).numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- review cases


@pytest.mark.parametrize("vg", [False, True], ids=["autograd", "value_and_grad"])
def test_focal_with_a_target_that_requires_grad(torch, vg):
    """Gradients in the target too: the torch forms must not write into a tensor
    autograd saved (the sigmoid multiplied by the target); both gradients as torch's."""
    gen = torch.Generator().manual_seed(3)
    x = (torch.randn(6, generator=gen, dtype=torch.float64) * 2).requires_grad_()
    y = torch.rand(6, generator=gen, dtype=torch.float64).requires_grad_()
    if vg:
        loss, _ = xent.value_and_grad(xent.sigmoid_focal_loss)(x, y, reduction="sum")
    else:
        loss = xent.sigmoid_focal_loss(x, y, reduction="sum")
    gx, gy = torch.autograd.grad(loss, (x, y))
    ox, oy = torch.autograd.grad(focal_oracle(torch, x, y, reduction="sum"), (x, y))
    torch.testing.assert_close(gx, ox, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gy, oy, rtol=1e-10, atol=1e-12)


def test_no_class_is_nan_as_in_torch(torch):
    F = torch.nn.functional
    x, t = torch.zeros(3, 0), torch.zeros(3, 0)
    assert torch.isnan(F.cross_entropy(x, t))  # the oracle's behaviour
    assert torch.isnan(xent.cross_entropy(x, t))
    x = x.clone().requires_grad_()
    assert torch.isnan(xent.cross_entropy(x, t))


def test_infinite_class_weight_keeps_torchs_nans(torch):
    """inf * 0 is nan (only a zero coefficient makes a term 0), in loss and gradient."""
    F = torch.nn.functional
    x = torch.tensor([[0.0, -200.0]], dtype=torch.float64)
    t = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    w = torch.tensor([math.inf, 1.0], dtype=torch.float64)
    expected = F.cross_entropy(x, t, weight=w)
    torch.testing.assert_close(xent.cross_entropy(x, t, weight=w), expected, equal_nan=True)
    x = torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    y, w = torch.tensor([0]), torch.tensor([1.0, math.inf, 1.0], dtype=torch.float64)
    options = dict(weight=w, label_smoothing=0.1, reduction="sum")
    (ours,) = torch.autograd.grad(xent.cross_entropy(x, y, **options), x)
    (theirs,) = torch.autograd.grad(F.cross_entropy(x, y, **options), x)
    torch.testing.assert_close(ours, theirs, equal_nan=True)
