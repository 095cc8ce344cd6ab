"""bfloat16 and float16 read and written by the kernels as they are (computed in float32).

Oracle: torch.nn.functional in float64 (torchvision's focal formula written in torch)
on the same half inputs, widened exactly; the kernel's loss and gradient must be that
value rounded to the half dtype, to within one rounding of it plus float32's error.
Every instruction set this CPU offers runs (the ``isa`` fixture: avx512bf16 with
vcvtneps2bf16, avx512 and avx2 with integer bfloat16 rounding, the portable baseline).
"""

from __future__ import annotations

import numpy as np
import pytest

import xent
from kernel_helpers import extension, isa_fixture  # noqa: F401
from test_kernel_autograd import focal_oracle

torch = pytest.importorskip("torch")
F = torch.nn.functional

HALVES = ["bfloat16", "float16"]
REDUCTIONS = ["none", "mean", "sum"]
SIZES = [1, 31, 4099]  # vector tails of every width
EPS32 = float(np.finfo(np.float32).eps)


def eps(dt):
    return float(torch.finfo(dt).eps)


def close(got, want, dt, scale=None):
    """got (half) is want (float64) rounded to dt, within one half rounding (half an ulp
    each way of the kernel's float32 value) plus float32 error relative to `scale`."""
    got, want = got.double(), want.double()
    scale = want.abs().max().item() if scale is None else scale
    tol = eps(dt) * want.abs() + 64 * EPS32 * scale + float(torch.finfo(dt).smallest_normal)
    bad = (got - want).abs() > tol
    assert not bad.any(), (got[bad][:5], want[bad][:5])


def calls_of(monkeypatch, name):
    """The `half` codes (last argument) of each call of the extension's `name`."""
    ext = extension()
    seen = []
    real = getattr(ext, name)

    def spy(*args):
        seen.append(args[-1])
        return real(*args)

    monkeypatch.setattr(ext, name, spy)
    return seen


def binary_case(op, dtype, n, seed=0):
    gen = torch.Generator().manual_seed(seed)
    dt = getattr(torch, dtype)
    if op == "binary_cross_entropy":
        x = torch.rand(n, generator=gen).clamp(0.01, 0.99)
    else:
        x = 4 * torch.randn(n, generator=gen)
    y = torch.rand(n, generator=gen)
    w = torch.rand(n, generator=gen) + 0.5
    return x.to(dt), y.to(dt), w.to(dt)


def oracle(op, x, y, w, reduction):
    if op == "sigmoid_focal_loss":
        return focal_oracle(torch, x, y, reduction=reduction)
    return getattr(F, op)(x, y, weight=w, reduction=reduction)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "op", ["binary_cross_entropy_with_logits", "binary_cross_entropy", "sigmoid_focal_loss"]
)
@pytest.mark.parametrize("dtype", HALVES)
def test_binary_autograd_matches_float64(isa, monkeypatch, dtype, op, reduction, n):
    seen = calls_of(monkeypatch, "binary")
    x, y, w = binary_case(op, dtype, n)
    dt = x.dtype
    xg = x.clone().requires_grad_()
    kwargs = {} if op == "sigmoid_focal_loss" else {"weight": w}
    loss = getattr(xent, op)(xg, y, reduction=reduction, **kwargs)
    assert loss.dtype == dt and type(loss.grad_fn).__name__ == "KernelLossBackward"
    assert loss.shape == ((n,) if reduction == "none" else ())
    (loss.sum() if reduction == "none" else loss).backward()
    assert xg.grad.dtype == dt
    assert seen == [{"bfloat16": 1, "float16": 2}[dtype]]  # the kernel, in the half dtype
    x64 = x.double().requires_grad_()
    want = oracle(op, x64, y.double(), w.double(), reduction)
    (want.sum() if reduction == "none" else want).backward()
    close(loss.detach(), want.detach(), dt)
    close(xg.grad, x64.grad, dt)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7, 33), (3, 5, 37), (33,)])
@pytest.mark.parametrize("dtype", HALVES)
def test_cross_entropy_autograd_matches_float64(isa, monkeypatch, dtype, shape, reduction):
    """Rows (N, C) and positions (N, C, d) layouts, class weights of the input's dtype,
    an ignored target, label smoothing."""
    seen = calls_of(monkeypatch, "softmax")
    gen = torch.Generator().manual_seed(1)
    dt = getattr(torch, dtype)
    c = shape[0] if len(shape) == 1 else shape[1]
    x = (3 * torch.randn(*shape, generator=gen)).to(dt)
    tshape = () if len(shape) == 1 else shape[:1] + shape[2:]
    t = torch.randint(0, c, tshape, generator=gen)
    if t.ndim:
        t.view(-1)[0] = -100
    w = (torch.rand(c, generator=gen) + 0.5).to(dt)
    xg = x.clone().requires_grad_()
    options = dict(weight=w, reduction=reduction, label_smoothing=0.1)
    loss = xent.cross_entropy(xg, t, **options)
    assert loss.dtype == dt and type(loss.grad_fn).__name__ == "KernelLossBackward"
    (loss.sum() if reduction == "none" else loss).backward()
    assert seen == [{"bfloat16": 1, "float16": 2}[dtype]]
    x64 = x.double().requires_grad_()
    want = F.cross_entropy(x64, t, **{**options, "weight": w.double()})
    (want.sum() if reduction == "none" else want).backward()
    close(loss.detach(), want.detach(), dt)
    close(xg.grad, x64.grad, dt)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_numpy_float16(isa, monkeypatch, reduction):
    seen = calls_of(monkeypatch, "binary")
    x, y, w = (a.numpy() for a in binary_case("binary_cross_entropy_with_logits", "float16", 999))
    loss, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(
        x, y, weight=w, reduction=reduction
    )
    assert seen == [2] and loss.dtype == grad.dtype == np.float16
    x64 = torch.from_numpy(x).double().requires_grad_()
    want = F.binary_cross_entropy_with_logits(
        x64, torch.from_numpy(y).double(), weight=torch.from_numpy(w).double(), reduction=reduction
    )
    (want.sum() if reduction == "none" else want).backward()
    close(torch.from_numpy(np.asarray(loss)), want.detach(), torch.float16)
    close(torch.from_numpy(grad), x64.grad, torch.float16)
    seen.clear()
    logits = x.reshape(9, 111)
    target = np.arange(9) % 111
    loss, grad = xent.value_and_grad(xent.cross_entropy)(logits, target, reduction=reduction)
    assert grad.dtype == np.float16
    x64 = torch.from_numpy(logits).double().requires_grad_()
    want = F.cross_entropy(x64, torch.from_numpy(target), reduction=reduction)
    (want.sum() if reduction == "none" else want).backward()
    close(torch.from_numpy(np.asarray(loss)), want.detach(), torch.float16)
    close(torch.from_numpy(grad), x64.grad, torch.float16)


@pytest.mark.parametrize("dtype", HALVES)
def test_tiny_and_special_values_round_once(isa, dtype):
    """Gradients in the half dtype's subnormal range (vcvtneps2bf16 would flush them to
    0) and the loss's infinities and nan: the float64 value rounded once."""
    dt = getattr(torch, dtype)
    x = torch.tensor([-100.0, -95.0, -90.0, -30.0, -17.0, 0.0, 3.0, 1e4, -1e4, float("nan")])
    x = x.to(dt)
    y = torch.zeros_like(x)
    xg = x.clone().requires_grad_()
    loss = xent.binary_cross_entropy_with_logits(xg, y, reduction="none")
    loss.sum().backward()
    x64 = x.double().requires_grad_()
    want = F.binary_cross_entropy_with_logits(x64, y.double(), reduction="none")
    want.sum().backward()
    expect = x64.grad.to(dt)
    finite = expect.isfinite() & (expect.abs() < 1)
    # the smallest gradients: exact roundings (float32 computes them to an ulp)
    assert torch.equal(xg.grad[finite][:3], expect[finite][:3])
    assert xg.grad[-1].isnan() and loss[-1].isnan()
    close(loss[:-1].detach(), want[:-1].detach(), dt)


@pytest.mark.parametrize("dtype", HALVES)
def test_as_accurate_as_torch_in_half(dtype):
    """The 'mean' loss and the gradient against float64 on the same half inputs: xent's
    error is at most torch's own half-precision result's."""
    dt = getattr(torch, dtype)
    gen = torch.Generator().manual_seed(3)
    cases = [
        (
            xent.cross_entropy,
            F.cross_entropy,
            (2 * torch.randn(64, 4099, generator=gen)).to(dt),
            torch.randint(0, 4099, (64,), generator=gen),
        ),
        (
            xent.binary_cross_entropy_with_logits,
            F.binary_cross_entropy_with_logits,
            (3 * torch.randn(1 << 16, generator=gen)).to(dt),
            torch.rand(1 << 16, generator=gen).to(dt),
        ),
    ]
    for ours, theirs, x, other in cases:
        other64 = other.double() if other.is_floating_point() else other
        x64 = x.double().requires_grad_()
        exact = theirs(x64, other64)
        exact.backward()
        errors = []
        for fn in (ours, theirs):
            xg = x.clone().requires_grad_()
            loss = fn(xg, other)
            loss.backward()
            assert loss.dtype == xg.grad.dtype == dt
            errors.append(
                (
                    abs(loss.double().item() - exact.item()),
                    (xg.grad.double() - x64.grad).abs().mean().item(),
                )
            )
        (ours_value, ours_grad), (torch_value, torch_grad) = errors
        assert ours_value <= torch_value, (fn, errors)
        assert ours_grad <= torch_grad, (fn, errors)


def test_declined_halves_run_the_reference_in_float32(monkeypatch):
    """A broadcast the kernel does not take ((C, 1, 1) pos_weight) and a target of
    another dtype: the reference on float32 copies, the result in the input's dtype."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 4, 5, generator=gen).to(torch.bfloat16).requires_grad_()
    y = torch.rand(2, 3, 4, 5, generator=gen).to(torch.bfloat16)
    pw = (torch.rand(3, 1, 1, generator=gen) + 0.5).to(torch.bfloat16)
    loss = xent.binary_cross_entropy_with_logits(x, y, pos_weight=pw)
    assert loss.dtype == torch.bfloat16
    assert type(loss.grad_fn).__name__ != "KernelLossBackward"
    loss.backward()
    x64 = x.detach().double().requires_grad_()
    want = F.binary_cross_entropy_with_logits(x64, y.double(), pos_weight=pw.double())
    want.backward()
    close(loss.detach().reshape(1), want.detach().reshape(1), torch.bfloat16)
    close(x.grad, x64.grad, torch.bfloat16)
    # a float32 target: PyTorch's promotion, float32 out (the float32 kernel)
    out = xent.binary_cross_entropy_with_logits(x, y.float())
    assert out.dtype == torch.float32


def test_bfloat16_bits_round_once():
    from xent._kernels._ops import bfloat16_bits

    for value in [1.0, 1 + 2**-8, 1 + 2**-8 + 2**-40, 1 + 2**-8 - 2**-40, -3.3, 1e-40, 3e38, 1e39]:
        want = torch.tensor(value, dtype=torch.float64)
        # torch rounds float64 -> bfloat16 through float32; compare where that is exact
        got = torch.tensor(bfloat16_bits(value), dtype=torch.int32).to(torch.int16)
        got = got.view(torch.bfloat16).double().item()
        assert abs(got - value) <= abs(want.to(torch.bfloat16).double().item() - value)
    tie = 1 + 2**-8 + 2**-40  # just above a tie: up (float32 alone would round to the tie)
    bits = bfloat16_bits(tie)
    assert bits == 0x3F81
    assert bfloat16_bits(1 + 2**-8) == 0x3F80  # the tie: to even
    assert bfloat16_bits(float("nan")) & 0x7FC0 == 0x7FC0
