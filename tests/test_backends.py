"""Every array, every framework: the same public functions on NumPy, PyTorch, JAX, Dask and
array-api-strict arrays return the same kind of array; values equal the NumPy results within
dtype tolerance, and gradients (autograd, jax.grad, value_and_grad) equal PyTorch's."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import xent
from kernel_helpers import extension
from xent import keras as xk
from xent import tf as xtf


@dataclass
class Backend:
    name: str
    module: Any
    asarray: Callable[[np.ndarray], Any]
    to_numpy: Callable[[Any], np.ndarray]
    is_native: Callable[[Any], bool]


def _numpy() -> Backend:
    return Backend(
        "numpy", np, np.asarray, np.asarray, lambda a: isinstance(a, np.ndarray | np.generic)
    )


def _torch() -> Backend:
    torch = pytest.importorskip("torch")
    return Backend(
        "torch",
        torch,
        lambda a: torch.from_numpy(np.array(a)),
        lambda a: a.detach().numpy(),
        lambda a: isinstance(a, torch.Tensor),
    )


def _jax() -> Backend:
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    return Backend("jax", jax, jnp.asarray, np.asarray, lambda a: isinstance(a, jax.Array))


def _dask() -> Backend:
    da = pytest.importorskip("dask.array")
    return Backend(
        "dask",
        da,
        lambda a: da.from_array(np.array(a), chunks=2),
        lambda a: np.asarray(a.compute()),
        lambda a: isinstance(a, da.Array),
    )


def _strict() -> Backend:
    xs = pytest.importorskip("array_api_strict")
    return Backend(
        "array-api-strict",
        xs,
        xs.asarray,
        lambda a: np.from_dlpack(a),
        lambda a: type(a).__module__.startswith("array_api_strict"),
    )


BACKENDS = {
    "numpy": _numpy,
    "torch": _torch,
    "jax": _jax,
    "dask": _dask,
    "array-api-strict": _strict,
}


@pytest.fixture(params=list(BACKENDS), ids=list(BACKENDS))
def backend(request) -> Backend:
    return BACKENDS[request.param]()


# --------------------------------------------------------------------------- cases

RNG = np.random.default_rng(42)
X = RNG.normal(size=(6, 4)) * 3
P = 1 / (1 + np.exp(-X))
P[0, :2] = [0.0, 1.0]  # where the clamps act
Y = RNG.uniform(size=(6, 4))
Y_HARD = (Y > 0.5).astype(float)
W = RNG.uniform(0.5, 2, size=(4,))
SW = RNG.uniform(0.5, 2, size=(6,))
Z = RNG.normal(size=(6, 5, 3)) * 3  # multi-class logits (N, C, d)
LABELS = RNG.integers(0, 5, size=(6, 3))
LABELS[0, 0] = -100  # ignored
SOFT = RNG.dirichlet(np.ones(5), size=(6, 3)).transpose(0, 2, 1)  # probabilities, class axis 1
CW = RNG.uniform(0.5, 2, size=(5,))

# name -> (function, positional arrays (first is differentiated), keyword arrays, keywords)
CASES: dict[str, tuple[Callable, tuple, dict, dict]] = {
    "bce_logits_weights": (
        xent.binary_cross_entropy_with_logits,
        (X, Y),
        {"weight": W, "pos_weight": W},
        {},
    ),
    "bce_logits_ignore_ls": (
        xent.binary_cross_entropy_with_logits,
        (X, np.where(Y > 0.8, -1.0, Y_HARD)),
        {},
        {"ignore_index": -1.0, "label_smoothing": 0.1, "reduction": "sum"},
    ),
    "bce_probs": (xent.binary_cross_entropy, (P, Y), {"weight": W}, {"reduction": "none"}),
    "focal": (xent.sigmoid_focal_loss, (X, Y_HARD), {}, {"reduction": "mean"}),
    "focal_gamma_half": (
        xent.sigmoid_focal_loss,
        (X, Y_HARD),
        {},
        {"gamma": 0.5, "reduction": "sum"},
    ),
    "multilabel_soft_margin": (xent.multilabel_soft_margin_loss, (X, Y_HARD), {"weight": W}, {}),
    "soft_margin": (xent.soft_margin_loss, (X, 2 * Y_HARD - 1), {}, {"reduction": "sum"}),
    "kl_div_batchmean": (
        xent.kl_div,
        (X - np.log(np.exp(X).sum(axis=1, keepdims=True)), Y / Y.sum(axis=1, keepdims=True)),
        {},
        {"reduction": "batchmean"},
    ),
}

KERAS_CASES: dict[str, tuple[Callable, tuple, dict, dict]] = {
    "keras_bce_fn": (xk.binary_crossentropy, (Y_HARD, P), {}, {"label_smoothing": 0.1}),
    "keras_focal_fn": (xk.binary_focal_crossentropy, (Y_HARD, X), {}, {"from_logits": True}),
    "keras_bce_class": (
        xk.BinaryCrossentropy(from_logits=True, dtype="float64"),
        (Y, X),
        {"sample_weight": SW},
        {},
    ),
    "keras_focal_class": (
        xk.BinaryFocalCrossentropy(apply_class_balancing=True, reduction="sum", dtype="float64"),
        (Y_HARD, P),
        {},
        {},
    ),
    "tf_sigmoid": (xtf.sigmoid_cross_entropy_with_logits, (), {"labels": Y, "logits": X}, {}),
    "tf_weighted": (xtf.weighted_cross_entropy_with_logits, (Y, X, W), {}, {}),
    "keras_sparse_class": (
        xk.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0, dtype="float64"),
        (LABELS[:, 0].clip(0), Z[:, :, 0]),
        {},
        {},
    ),
    "keras_categorical_focal_fn": (
        xk.categorical_focal_crossentropy,
        (SOFT[:, :, 0], Z[:, :, 0]),
        {},
        {"from_logits": True, "label_smoothing": 0.1},
    ),
    "tf_sparse_softmax": (
        xtf.sparse_softmax_cross_entropy_with_logits,
        (),
        {"labels": LABELS[:, 0].clip(0), "logits": Z[:, :, 0]},
        {},
    ),
}
INTEGER_ARGUMENTS = {"labels"}

DTYPES = [np.float32, np.float64]


def converter(backend: Backend, dtype):
    """Floating arrays to `dtype`, integer ones (class indices) kept, in the backend's type."""

    def conv(a):
        a = np.asarray(a)
        return backend.asarray(a if a.dtype.kind in "iu" else a.astype(dtype))

    return conv


def call(backend: Backend, case, dtype):
    fn, args, array_kwargs, kwargs = case
    conv = converter(backend, dtype)
    return fn(*map(conv, args), **{k: conv(v) for k, v in array_kwargs.items()}, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(CASES) + list(KERAS_CASES))
def test_values_match_numpy_and_keep_the_array_type(backend, case, dtype):
    spec = CASES.get(case) or KERAS_CASES[case]
    want = call(BACKENDS["numpy"](), spec, dtype)
    got = call(backend, spec, dtype)
    assert backend.is_native(got), f"{backend.name} in, {type(got).__name__} out"
    got = backend.to_numpy(got)
    assert got.dtype == np.asarray(want).dtype and got.shape == np.shape(want)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(got, want, rtol=64 * eps, atol=64 * eps * 10)


def float64_tensor(torch, a):
    """A torch tensor of `a`: float64, or integer as it is (class indices)."""
    a = np.asarray(a)
    return torch.from_numpy(np.array(a if a.dtype.kind in "iu" else a.astype(np.float64)))


def torch_oracle_grad(torch, case: str) -> np.ndarray:
    """PyTorch's own gradient in float64 (torch.nn.functional, torchvision's focal formula)."""
    fn, args, array_kwargs, kwargs = CASES[case]
    F = torch.nn.functional
    t = functools.partial(float64_tensor, torch)
    x = t(args[0]).requires_grad_()
    y = t(args[1])
    tk = {k: t(v) for k, v in array_kwargs.items()}
    if fn is xent.sigmoid_focal_loss:
        from test_binary_torch import torchvision_sigmoid_focal_loss

        out = torchvision_sigmoid_focal_loss(
            torch, x, y, kwargs.get("alpha", 0.25), kwargs.get("gamma", 2.0), kwargs["reduction"]
        )
    elif "ignore_index" in kwargs:
        keep = y != kwargs["ignore_index"]
        ls = kwargs["label_smoothing"]
        full = F.binary_cross_entropy_with_logits(
            x, torch.where(keep, y, 0.0) * (1 - ls) + 0.5 * ls, reduction="none"
        )
        out = full[keep].sum()
    else:
        out = getattr(F, fn.__name__)(x, y, **tk, **kwargs)
    out.sum().backward()
    return x.grad.numpy()


def backend_grad(backend: Backend, case: str, dtype) -> np.ndarray:
    """The gradient as a user of that backend gets it."""
    fn, args, array_kwargs, kwargs = CASES[case]
    conv = converter(backend, dtype)
    rest = [conv(a) for a in args[1:]]
    kw = {k: conv(v) for k, v in array_kwargs.items()}
    if backend.name == "torch":
        x = conv(args[0]).requires_grad_()
        fn(x, *rest, **kw, **kwargs).sum().backward()
        return x.grad.numpy()
    if backend.name == "jax":
        jax = backend.module
        f = jax.jit(jax.grad(lambda x: fn(x, *rest, **kw, **kwargs).sum()))
        return np.asarray(f(conv(args[0])))
    _, grad = xent.value_and_grad(fn)(conv(args[0]), *rest, **kw, **kwargs)
    assert backend.is_native(grad)
    return backend.to_numpy(grad)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(CASES))
def test_gradients_match_pytorch(backend, torch, case, dtype):
    want = torch_oracle_grad(torch, case)
    got = backend_grad(backend, case, dtype)
    assert got.dtype == dtype and got.shape == want.shape
    eps = np.finfo(dtype).eps
    # the BCE gradient reaches 1e12 at the clamps: relative there
    np.testing.assert_allclose(got, want, rtol=64 * eps, atol=64 * eps)


# --------------------------------------------------------------------------- framework specifics


@pytest.mark.parametrize("case", list(CASES))
def test_torch_double_backward(torch, case):
    fn, args, array_kwargs, kwargs = CASES[case]
    if fn is xent.binary_cross_entropy:
        args = (np.clip(args[0], 0.05, 0.95), *args[1:])  # finite differences need room
    t = functools.partial(float64_tensor, torch)
    rest = [t(a) for a in args[1:]]
    kw = {k: t(v) for k, v in array_kwargs.items()}
    x = t(args[0]).requires_grad_()

    def loss(v):
        return fn(v, *rest, **kw, **kwargs)

    assert torch.autograd.gradcheck(loss, (x,))
    assert torch.autograd.gradgradcheck(loss, (x,))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_torch_half_precision_and_autocast(torch, dtype):
    import xent.nn

    dt = getattr(torch, dtype)
    x = torch.from_numpy(X).to(dt).requires_grad_()
    y = torch.from_numpy(Y).to(dt)
    loss = xent.binary_cross_entropy_with_logits(x, y)
    assert loss.dtype == dt
    want = xent.binary_cross_entropy_with_logits(x.detach().float(), y.float())
    assert loss.item() == pytest.approx(want.to(dt).item(), rel=0)  # computed in float32
    loss.backward()
    assert x.grad.dtype == dt
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = torch.nn.Linear(4, 4)(torch.from_numpy(X).float())
        assert logits.dtype == torch.bfloat16
        out = xent.nn.BCEWithLogitsLoss()(logits, torch.from_numpy(Y).float())
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        logits.float(), torch.from_numpy(Y).float()
    )
    assert out.item() == pytest.approx(ref.item(), rel=1e-2)


def test_jax_vmap_matches_rows():
    jax = _jax().module
    x, y = jax.numpy.asarray(X), jax.numpy.asarray(Y)
    batched = jax.vmap(lambda a, b: xent.binary_cross_entropy_with_logits(a, b))(x, y)
    rows = np.array([xent.binary_cross_entropy_with_logits(X[i], Y[i]) for i in range(len(X))])
    np.testing.assert_allclose(np.asarray(batched), rows, rtol=1e-14)


def test_dask_is_lazy_and_checks_lazily():
    da = pytest.importorskip("dask.array")
    bad = da.from_array(np.where(P > 0.5, 2.0, P), chunks=2)
    loss = xent.binary_cross_entropy(bad, da.from_array(Y, chunks=2))  # no error yet: lazy
    assert isinstance(loss, da.Array)
    with pytest.raises(ValueError, match="all elements of input should be between 0 and 1"):
        loss.compute()


def test_dask_on_a_distributed_cluster():
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    x_np, y_np = rng.normal(size=(4000, 8)), rng.uniform(size=(4000, 8))
    x, y = da.from_array(x_np, chunks=(500, 8)), da.from_array(y_np, chunks=(500, 8))
    loss = xent.binary_cross_entropy_with_logits(x, y, pos_weight=da.from_array(W.repeat(2)))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        got = loss.compute()
    want = xent.binary_cross_entropy_with_logits(x_np, y_np, pos_weight=W.repeat(2))
    np.testing.assert_allclose(got, want, rtol=1e-13)


# --------------------------------------------------------------------------- xent.nn


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_numpy_targets_join_the_input_library(library):
    backend = BACKENDS[library]()
    got = xent.cross_entropy(backend.asarray(Z), LABELS, weight=CW)  # NumPy target and weight
    assert backend.is_native(got)
    np.testing.assert_allclose(
        backend.to_numpy(got), xent.cross_entropy(Z, LABELS, weight=CW), rtol=1e-14
    )


def test_nn_modules_match_torch_modules(torch):
    import xent.nn

    t = lambda a: torch.from_numpy(np.array(a))  # noqa: E731
    pairs = [
        (xent.nn.BCELoss(weight=t(W)), torch.nn.BCELoss(weight=t(W)), P),
        (
            xent.nn.BCEWithLogitsLoss(pos_weight=t(W), reduction="sum"),
            torch.nn.BCEWithLogitsLoss(pos_weight=t(W), reduction="sum"),
            X,
        ),
    ]
    multi = [
        (
            xent.nn.CrossEntropyLoss(weight=t(CW), label_smoothing=0.2),
            torch.nn.CrossEntropyLoss(weight=t(CW), label_smoothing=0.2),
            Z,
        ),
        (xent.nn.NLLLoss(weight=t(CW)), torch.nn.NLLLoss(weight=t(CW)), Z),
    ]
    for ours, theirs, first in pairs + multi:
        target = t(LABELS) if first is Z else t(Y)
        a, b = t(first).requires_grad_(), t(first).requires_grad_()
        la, lb = ours(a, target), theirs(b, target)
        la.backward()
        lb.backward()
        np.testing.assert_allclose(la.detach().numpy(), lb.detach().numpy(), rtol=1e-13)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_nn_buffers_state_dict_to_and_pickle(torch):
    import pickle

    import xent.nn

    m = xent.nn.BCEWithLogitsLoss(weight=torch.ones(4), pos_weight=torch.full((4,), 2.0))
    assert set(m.state_dict()) == {"weight", "pos_weight"}
    m64 = m.to(torch.float64)
    assert m64.pos_weight.dtype == torch.float64
    clone = pickle.loads(pickle.dumps(m))
    torch.testing.assert_close(clone.pos_weight, m.pos_weight)
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    torch.testing.assert_close(clone(x.float(), y.float()), m(x.float(), y.float()))


def test_nn_legacy_arguments_warn_like_torch(torch):
    import xent.nn

    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        m = xent.nn.BCELoss(size_average=False)
    assert m.reduction == "sum"


def test_nn_under_torch_compile(torch):
    import xent.nn

    m = xent.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(W))
    compiled = torch.compile(m, backend="eager")
    x = torch.from_numpy(X).requires_grad_()
    loss = compiled(x, torch.from_numpy(Y))
    loss.backward()
    ref_x = torch.from_numpy(X).requires_grad_()
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        ref_x, torch.from_numpy(Y), pos_weight=torch.from_numpy(W)
    )
    ref.backward()
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(x.grad, ref_x.grad)


def test_importing_xent_nn_needs_torch_but_xent_does_not():
    import subprocess
    import sys

    code = "import sys, xent; assert 'torch' not in sys.modules; print(hasattr(xent, 'nn'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kernels", ["kernels", "reference"])
def test_training_on_torch_emits_no_warning(torch, kernels):
    """A reduced loss of a tensor that requires grad gave torch.asarray's UserWarning
    (printed once per process, hence a fresh one) on the reference path."""
    import os
    import subprocess
    import sys

    if kernels == "kernels":
        extension()  # else the child would run the reference too

    code = (
        "import torch, xent\n"
        "x = torch.randn(4, 3, requires_grad=True)\n"
        "for f in (xent.binary_cross_entropy_with_logits, xent.cross_entropy):\n"
        "    t = torch.rand(4, 3) if f is not xent.cross_entropy else torch.tensor([0, 2, 1, 0])\n"
        "    f(x, t).backward()\n"
        "    f(x, t, reduction='sum').backward()\n"
        "t = torch.rand(4, 3)\n"  # the Keras functions, classes and metrics, and the new losses
        "xent.keras.binary_crossentropy(t, x, from_logits=True).sum().backward()\n"
        "xent.keras.BinaryCrossentropy(from_logits=True)(t, x).backward()\n"
        "xent.keras.metrics.BinaryCrossentropy(from_logits=True)(t, x)\n"
        "xent.keras.kl_divergence(t, x.sigmoid()).sum().backward()\n"
        "xent.multilabel_soft_margin_loss(x, t).backward()\n"
        "xent.kl_div(x, t, reduction='batchmean').backward()\n"
    )
    env = {**os.environ, "XENT_DISABLE_KERNELS": "1" if kernels == "reference" else "0"}
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr


def test_jax_default_32_bit_mode_warns_nothing():
    """JAX's default mode (no jax_enable_x64, which the other tests of this session turn
    on): the losses with integer labels cast them to int32, not to int64 (which JAX
    truncates with a UserWarning on every call). In a fresh process, warnings as errors."""
    import subprocess
    import sys

    pytest.importorskip("jax")
    code = (
        "import jax, jax.numpy as j, xent\n"
        "from xent import optax as xo\n"
        "assert not jax.config.jax_enable_x64\n"
        "x, y = j.zeros((2, 3)), j.array([0, 1])\n"
        "xo.softmax_cross_entropy_with_integer_labels(x, y)\n"
        "xent.cross_entropy(x, y), xent.nll_loss(x, y), xent.cross_entropy(x, y, ignore_index=1)\n"
        "xent.keras.sparse_categorical_crossentropy(y, x, from_logits=True)\n"
        "xent.keras.SparseCategoricalCrossentropy(from_logits=True, ignore_class=1)(y, x)\n"
        "xent.keras.metrics.SparseCategoricalCrossentropy(from_logits=True)(y, x)\n"
        "xent.tf.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)\n"
        "xent.tf.losses.sparse_softmax_cross_entropy(y, x)\n"
        "jax.jit(jax.grad(lambda v: xent.cross_entropy(v, y)))(x)\n"
    )
    import os
    from pathlib import Path

    src = str(Path(xent.__file__).resolve().parents[1])  # this xent, not another install
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert out.returncode == 0, out.stderr
