"""xent.optax against optax 0.2.8 itself: values on JAX arrays (hypothesis over shapes, axes,
masks, labels and options), the same functions on NumPy and torch arrays, gradients (jax.grad,
jit, vmap, grad of grad; torch autograd) against jax.grad of optax, the documented deviations
(each shown to be one: optax's value is checked too), and errors of the same types."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import assert_close
from xent import optax as xo

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# JAX compiles every operation anew for each shape it sees in eager mode: few examples, over
# few shapes (sizes 1 and 3), keep this file fast; the shapes still cover every layout
few = settings(max_examples=8, deadline=None)


@pytest.fixture(scope="module")
def jax():
    jax = pytest.importorskip("jax")
    pytest.importorskip("optax")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.fixture(scope="module")
def ol(jax):
    import optax

    return optax.losses


def J(value):
    import jax.numpy as jnp

    return jnp.asarray(value)


def close(actual, expected, dtype=np.float64, ulps=64, scale=1.0):
    assert_close(np.asarray(actual), np.asarray(expected), dtype, ulps, scale)


# --------------------------------------------------------------------------- strategies


@st.composite
def shapes_and_axis(draw, tuples=True, none=True, min_dims=1):
    ndim = draw(st.integers(min_dims, 3))
    shape = tuple(draw(st.lists(st.sampled_from([1, 3]), min_size=ndim, max_size=ndim)))
    kinds = ["int"] + (["tuple"] if tuples else []) + (["none"] if none else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    elif kind == "tuple":
        axes = draw(st.permutations(range(ndim)))[: draw(st.integers(1, ndim))]
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    else:
        axis = None
    return shape, axis


def _axes_of(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


@st.composite
def masks(draw, rng, shape, axis, lower_rank=True):
    kind = draw(
        st.sampled_from(
            ["none", "full", "rows"] if lower_rank and axis is not None else ["none", "full"]
        )
    )
    if kind == "none":
        return None
    if kind == "full":
        return rng.uniform(size=shape) < 0.7
    batch = tuple(s for i, s in enumerate(shape) if i not in _axes_of(axis, len(shape)))
    return rng.uniform(size=batch) < 0.7


def rng_of(seed):
    return np.random.default_rng(seed)


seeds = st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------------- values vs optax


@few
@given(data=st.data(), seed=seeds)
def test_sigmoid_binary_cross_entropy(ol, data, seed):
    rng = rng_of(seed)
    shape, _ = data.draw(shapes_and_axis(tuples=False, none=False))
    label_shape = tuple(s if data.draw(st.booleans()) else 1 for s in shape)[
        data.draw(st.integers(0, len(shape))) :
    ]
    x = rng.normal(size=shape) * data.draw(st.sampled_from([1.0, 10.0, 100.0]))
    y = rng.uniform(-0.5, 1.5, size=label_shape)
    want = ol.sigmoid_binary_cross_entropy(J(x), J(y))
    got = xo.sigmoid_binary_cross_entropy(J(x), J(y))
    assert type(got) is type(want) and got.shape == want.shape and got.dtype == want.dtype
    close(got, want, scale=1 + np.abs(x).max())


@few
@given(
    data=st.data(),
    seed=seeds,
    alpha=st.one_of(st.none(), st.floats(-0.5, 1.5)),
    gamma=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 3.5]),
    hard=st.booleans(),
)
def test_sigmoid_focal_loss(ol, data, seed, alpha, gamma, hard):
    rng = rng_of(seed)
    shape, _ = data.draw(shapes_and_axis(tuples=False, none=False))
    x = rng.normal(size=shape) * data.draw(st.sampled_from([1.0, 10.0, 40.0]))
    y = (rng.uniform(size=shape) < 0.5) * 1.0 if hard else rng.uniform(size=shape)
    want = ol.sigmoid_focal_loss(J(x), J(y), alpha=alpha, gamma=gamma)
    got = xo.sigmoid_focal_loss(J(x), J(y), alpha=alpha, gamma=gamma)
    assert got.shape == want.shape and got.dtype == want.dtype
    close(got, want, scale=1 + np.abs(x).max())


def test_sigmoid_focal_loss_array_options(ol):
    rng = rng_of(0)
    x, y = rng.normal(size=(4, 3)) * 3, rng.uniform(size=(4, 3))
    alpha, gamma = np.array([0.1, 0.5, 0.9]), np.array([0.0, 0.5, 2.0])
    want = ol.sigmoid_focal_loss(J(x), J(y), alpha=J(alpha), gamma=J(gamma))
    close(xo.sigmoid_focal_loss(J(x), J(y), alpha=J(alpha), gamma=J(gamma)), want, scale=10)
    close(xo.sigmoid_focal_loss(x, y, alpha=alpha, gamma=gamma), want, scale=10)


def test_focal_log_space_tail(ol):
    """1 - p_t summed in log space: tiny losses of the right size at large |x| (optax's
    values, relative accuracy), and 800 (not nan) at x = 800, y = 0."""
    x, y = np.array([30.0, 200.0, -600.0, 800.0]), np.array([1.0, 1.0, 0.0, 0.0])
    want = ol.sigmoid_focal_loss(J(x), J(y), gamma=0.01)
    got = xo.sigmoid_focal_loss(x, y, gamma=0.01)
    assert np.all(np.asarray(want) > 0)
    close(got, want, scale=0)


@few
@given(data=st.data(), seed=seeds, scale=st.sampled_from([1.0, 10.0, 100.0]))
def test_softmax_cross_entropy(ol, data, seed, scale):
    rng = rng_of(seed)
    shape, axis = data.draw(shapes_and_axis())
    where = data.draw(masks(rng, shape, axis))
    x = rng.normal(size=shape) * scale
    y = rng.uniform(size=tuple(s if data.draw(st.booleans()) else 1 for s in shape))
    kwargs = {} if where is None else {"where": J(where)}
    want = ol.softmax_cross_entropy(J(x), J(y), axis=axis, **kwargs)
    got = xo.softmax_cross_entropy(J(x), J(y), axis=axis, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    close(got, want, scale=(1 + np.abs(x).max()) * x.size)


@few
@given(data=st.data(), seed=seeds)
def test_softmax_cross_entropy_labels_of_higher_rank(ol, data, seed):
    """Labels that grow the logits' rank, with a negative axis (a row of logits for
    every batch of labels)."""
    rng = rng_of(seed)
    x = rng.normal(size=(3, 4))
    y = rng.uniform(size=(2, 3, 4))
    axis = data.draw(st.sampled_from([-1, -2, (-1, -2)]))
    want = ol.softmax_cross_entropy(J(x), J(y), axis=axis)
    close(xo.softmax_cross_entropy(J(x), J(y), axis=axis), want, scale=20)
    close(ol.safe_softmax_cross_entropy(J(x), J(y)), xo.safe_softmax_cross_entropy(x, y), scale=20)


@few
@given(data=st.data(), seed=seeds, scale=st.sampled_from([1.0, 10.0, 100.0]))
def test_softmax_cross_entropy_with_integer_labels(ol, data, seed, scale):
    rng = rng_of(seed)
    shape, axis = data.draw(shapes_and_axis(none=False))
    if isinstance(axis, tuple) and data.draw(st.booleans()):
        axis = tuple(axis)
    where = data.draw(masks(rng, shape, axis))
    axes = _axes_of(axis, len(shape))
    batch = tuple(s for i, s in enumerate(shape) if i not in axes)
    n = int(np.prod([shape[a] for a in axes]))
    x = rng.normal(size=shape) * scale
    # labels in [-C-1, C]: negative ones count from the end, C and -C-1 give nan
    labels = rng.integers(-n - 1, n + 1, size=batch)
    if data.draw(st.booleans()):
        labels = rng.integers(0, n, size=batch).astype(
            data.draw(st.sampled_from(["int32", "uint8"]))
        )
    kwargs = {} if where is None else {"where": J(where)}
    want = ol.softmax_cross_entropy_with_integer_labels(J(x), J(labels), axis=axis, **kwargs)
    got = xo.softmax_cross_entropy_with_integer_labels(J(x), J(labels), axis=axis, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    close(got, want, scale=(1 + np.abs(x).max()) * n)


@few
@given(data=st.data(), seed=seeds)
def test_safe_softmax_cross_entropy(ol, data, seed):
    rng = rng_of(seed)
    shape, _ = data.draw(shapes_and_axis(tuples=False, none=False))
    x = rng.normal(size=shape) * 5
    x[rng.uniform(size=shape) < 0.2] = -np.inf
    x[..., 0] = 0.0  # every row has a softmax
    y = rng.uniform(size=shape) * (x > -np.inf)
    want = ol.safe_softmax_cross_entropy(J(x), J(y))
    got = xo.safe_softmax_cross_entropy(J(x), J(y))
    assert got.shape == want.shape
    close(got, want, scale=x.size * 20)


@few
@given(data=st.data(), seed=seeds, epsilon=st.floats(-2.0, 4.0))
def test_poly_loss_cross_entropy(ol, data, seed, epsilon):
    rng = rng_of(seed)
    shape, axis = data.draw(shapes_and_axis())
    where = data.draw(masks(rng, shape, axis, lower_rank=False))
    x = rng.normal(size=shape) * 5
    y = rng.uniform(size=shape)
    kwargs = {} if where is None else {"where": J(where)}
    want = ol.poly_loss_cross_entropy(J(x), J(y), epsilon=epsilon, axis=axis, **kwargs)
    got = xo.poly_loss_cross_entropy(J(x), J(y), epsilon=epsilon, axis=axis, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    close(got, want, scale=x.size * 30)


def test_poly_loss_array_epsilon(ol):
    rng = rng_of(1)
    x, y, eps = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3)), rng.uniform(size=(4,))
    want = ol.poly_loss_cross_entropy(J(x), J(y), epsilon=J(eps))
    close(xo.poly_loss_cross_entropy(x, y, epsilon=eps), want, scale=10)


@pytest.mark.parametrize("log_targets", [False, True], ids=["targets", "log_targets"])
@few
@given(data=st.data(), seed=seeds)
def test_kl_divergence(ol, log_targets, data, seed):
    rng = rng_of(seed)
    shape, axis = data.draw(shapes_and_axis())
    if axis is not None and data.draw(st.booleans()):
        axis = list(axis) if isinstance(axis, tuple) else axis
    logq = np.log(rng.uniform(0.01, 1, size=shape))
    t = rng.uniform(size=tuple(s if data.draw(st.booleans()) else 1 for s in shape))
    t[rng.uniform(size=t.shape) < 0.2] = 0.0
    where = None
    if data.draw(st.booleans()):
        where = rng.uniform(size=shape[data.draw(st.integers(0, len(shape))) :]) < 0.7
    kwargs = {} if where is None else {"where": J(where)}
    if log_targets:
        t = np.log(t + 0.1)
        optax_fn, xent_fn = ol.kl_divergence_with_log_targets, xo.kl_divergence_with_log_targets
    else:
        optax_fn, xent_fn = ol.kl_divergence, xo.kl_divergence
    want = optax_fn(J(logq), J(t), axis=axis, **kwargs)
    got = xent_fn(J(logq), J(t), axis=axis, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    close(got, want, scale=10 * logq.size)


# --------------------------------------------------------------------------- edge values


def test_integer_labels_edges(ol):
    """+inf at another class gives +inf, at the label's nan; only -inf logits nan; a masked
    label class gives lse - x_y (finite or -inf); fully masked rows 0; C = 0 gives -inf."""
    inf = np.inf
    x = np.array([[1.0, inf, 0.0], [1.0, inf, 0.0], [-inf, -inf, -inf], [1.0, -inf, 0.0]] * 2)
    labels = np.array([0, 1, 0, 1, 2, -1, 1, -3])
    where = np.array(
        [[True] * 3] * 4 + [[True, False, True], [True, False, True], [False] * 3, [True] * 3]
    )
    for kwargs in ({}, {"where": where}):
        want = ol.softmax_cross_entropy_with_integer_labels(
            J(x), J(labels), **{k: J(v) for k, v in kwargs.items()}
        )
        close(xo.softmax_cross_entropy_with_integer_labels(x, labels, **kwargs), want)
    empty = ol.softmax_cross_entropy_with_integer_labels(J(np.zeros((2, 0))), J(np.zeros(2, int)))
    close(xo.softmax_cross_entropy_with_integer_labels(np.zeros((2, 0)), np.zeros(2, int)), empty)


def test_masks_edges(ol):
    """Masked classes leave the softmax (a masked +inf is harmless), their labels (nan
    included) are left out, and a row with nothing kept gives 0."""
    x = np.array([[1.0, np.inf, 0.0], [0.5, -1.0, 2.0], [3.0, 1.0, 2.0]])
    y = np.array([[0.3, np.nan, 0.7], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    where = np.array([[True, False, True], [False, False, False], [True, True, False]])
    for name in ("softmax_cross_entropy", "poly_loss_cross_entropy"):
        want = getattr(ol, name)(J(x), J(y), where=J(where))
        assert np.all(np.isfinite(np.asarray(want)))
        close(getattr(xo, name)(x, y, where=where), want, scale=10)


# --------------------------------------------------------------------------- documented deviations


def test_deviations_zero_times_infinite_log(ol):
    """Where optax takes 0 * inf = nan, xent gives the family's 0 (documented)."""
    inf = np.inf
    x, y = np.array([[1.0, -inf, 0.0]]), np.array([[1.0, 0.0, 0.0]])
    safe = np.asarray(ol.safe_softmax_cross_entropy(J(x), J(y)))
    for name in ("softmax_cross_entropy", "poly_loss_cross_entropy"):
        assert np.isnan(getattr(ol, name)(J(x), J(y)))
        got = getattr(xo, name)(x, y)
        assert np.all(np.isfinite(got))
    close(xo.softmax_cross_entropy(x, y), safe)
    # poly: ce + eps * sum y (1 - p), with p of the -inf class 0
    p = np.exp(np.asarray(safe) * -1)
    close(xo.poly_loss_cross_entropy(x, y), safe + 2.0 * (1 - p))
    xs, ys = np.array([inf, -inf]), np.array([1.0, 0.0])
    assert np.all(np.isnan(ol.sigmoid_binary_cross_entropy(J(xs), J(ys))))
    np.testing.assert_array_equal(xo.sigmoid_binary_cross_entropy(xs, ys), [0.0, 0.0])
    for gamma in (0.0, 0.5, 2.0):
        assert np.all(np.isnan(ol.sigmoid_focal_loss(J(xs), J(ys), gamma=gamma)))
        np.testing.assert_array_equal(xo.sigmoid_focal_loss(xs, ys, gamma=gamma), [0.0, 0.0])
    logq, t = np.array([-inf, 0.0]), np.array([0.0, 1.0])
    assert np.isnan(ol.kl_divergence(J(logq), J(t)))
    assert xo.kl_divergence(logq, t) == 0.0
    logq, logt = np.array([-1.0, 0.0]), np.array([-inf, 0.0])
    assert np.isnan(ol.kl_divergence_with_log_targets(J(logq), J(logt)))
    assert xo.kl_divergence_with_log_targets(logq, logt) == 1.0 * (0.0 - 0.0)
    both = np.array([-inf, 0.0])  # -inf - -inf: optax's nan; a zero target: xent's 0
    assert np.isnan(ol.kl_divergence_with_log_targets(J(both), J(both)))
    assert xo.kl_divergence_with_log_targets(J(both), J(both)) == 0.0


def test_deviation_safe_row_without_softmax(ol):
    """A row with no softmax and only zero labels: optax's safe version gives 0, xent nan
    (documented); with a nonzero label both give nan."""
    x = np.array([[1.0, np.inf], [-np.inf, -np.inf]])
    zero = np.zeros((2, 2))
    np.testing.assert_array_equal(ol.safe_softmax_cross_entropy(J(x), J(zero)), [0.0, 0.0])
    assert np.all(np.isnan(xo.safe_softmax_cross_entropy(x, zero)))
    one = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert np.all(np.isnan(ol.safe_softmax_cross_entropy(J(x), J(one))))
    assert np.all(np.isnan(xo.safe_softmax_cross_entropy(x, one)))


def test_deviation_rank_growing_labels_with_front_axis():
    with pytest.raises(ValueError, match="higher rank"):
        xo.softmax_cross_entropy(np.zeros((2, 3)), np.ones((4, 2, 3)), axis=1)
    with pytest.raises(ValueError, match="rank"):
        xo.poly_loss_cross_entropy(np.zeros((2, 2)), np.ones((2, 2)), where=np.ones(2, bool))


# --------------------------------------------------------------------------- NumPy and torch


CASES = {
    "sigmoid_binary_cross_entropy": ({}, "soft"),
    "sigmoid_focal_loss": ({"alpha": 0.25, "gamma": 0.5}, "soft"),
    "softmax_cross_entropy": ({"axis": (0, 2)}, "soft"),
    "safe_softmax_cross_entropy": ({}, "soft"),
    "poly_loss_cross_entropy": ({"epsilon": 1.5, "axis": 1}, "soft"),
    "softmax_cross_entropy_with_integer_labels": ({"axis": (2, 0)}, "index"),
    "kl_divergence": ({"axis": None}, "soft"),
    "kl_divergence_with_log_targets": ({"axis": -2}, "log"),
}


VMAPPED = ("sigmoid_focal_loss", "safe_softmax_cross_entropy", "kl_divergence_with_log_targets")


def _case(name, dtype=np.float64):
    rng = rng_of(7)
    kwargs, kind = CASES[name]
    x = rng.normal(size=(2, 3, 4)) * 3
    if name.startswith("kl"):
        x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    if kind == "index":
        y = rng.integers(0, 8, size=(3,))
    elif kind == "log":
        y = np.log(rng.dirichlet(np.ones(4), size=(2, 3)))
    else:
        y = rng.uniform(size=(2, 3, 4))
    y = y if kind == "index" else y.astype(dtype)
    return x.astype(dtype), y, kwargs


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_numpy_equals_optax(ol, name, dtype):
    x, y, kwargs = _case(name, dtype)
    want = getattr(ol, name)(J(x), J(y), **kwargs)
    got = getattr(xo, name)(x, y, **kwargs)
    assert isinstance(got, np.ndarray) and got.dtype == dtype and got.shape == want.shape
    close(got, want, dtype, scale=30)


@pytest.mark.parametrize("name", sorted(CASES))
def test_torch_equals_optax_with_gradient(ol, jax, torch, name):
    x, y, kwargs = _case(name)
    f = getattr(ol, name)
    want = f(J(x), J(y), **kwargs)
    want_grad = jax.grad(lambda a: f(a, J(y), **kwargs).sum())(J(x))
    tx = torch.from_numpy(x).requires_grad_(True)
    got = getattr(xo, name)(tx, torch.from_numpy(y), **kwargs)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    got.sum().backward()
    close(got.detach().numpy(), want, scale=30)
    close(tx.grad.numpy(), want_grad, scale=30)


# --------------------------------------------------------------------------- JAX gradients


@pytest.mark.parametrize("name", sorted(CASES))
def test_jax_grad_jit_vmap_and_second_order(ol, jax, name):
    x, y, kwargs = _case(name)
    ox, xx = getattr(ol, name), getattr(xo, name)

    def total(fn):
        return lambda a: fn(a, J(y), **kwargs).sum()

    want = jax.grad(total(ox))(J(x))
    close(jax.grad(total(xx))(J(x)), want, scale=30)
    close(jax.jit(jax.grad(total(xx)))(J(x)), want, scale=30)
    direction = J(rng_of(3).normal(size=x.shape))

    def hvp(fn):  # grad of grad: the Hessian times a direction
        return jax.grad(lambda a: (jax.grad(total(fn))(a) * direction).sum())(J(x))

    close(hvp(xx), hvp(ox), scale=100)
    if name not in VMAPPED:
        return  # (a few suffice; and vmap over the first axis changes what axis=(0, 2) means)
    batched = jax.vmap(lambda a, b: xx(a, b, **kwargs))(J(x), J(y))
    close(batched, jax.vmap(lambda a, b: ox(a, b, **kwargs))(J(x), J(y)), scale=30)


def _grad_sum(jax, fn, x, args, kwargs):
    return jax.grad(lambda a: fn(a, *args, **kwargs).sum())(J(x))


def test_jax_grad_through_masks_and_labels(ol, jax):
    """Gradients with masked classes, fully masked rows, masked label classes and a -inf
    logit of label 0 (where optax's value is nan but its gradient finite)."""
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [1.0, -np.inf, 0.0]])
    y = np.array([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    where = J(np.array([[True, False, True], [False, False, False], [True, True, True]]))
    labels = J(np.array([1, 0, 0]))
    for fn, args in [
        ("softmax_cross_entropy", (J(y),)),
        ("softmax_cross_entropy_with_integer_labels", (labels,)),
        ("poly_loss_cross_entropy", (J(y),)),
    ]:
        for kwargs in ({}, {"where": where}):
            want = _grad_sum(jax, getattr(ol, fn), x, args, kwargs)
            close(_grad_sum(jax, getattr(xo, fn), x, args, kwargs), want, scale=10)
    # gradient in the labels too
    want = jax.grad(lambda t: ol.sigmoid_focal_loss(J(x[:2]), t, gamma=0.5).sum())(J(y[:2]))
    got = jax.grad(lambda t: xo.sigmoid_focal_loss(J(x[:2]), t, gamma=0.5).sum())(J(y[:2]))
    close(got, want, scale=10)


def test_focal_gradient_finite_at_small_gamma(ol, jax):
    x, y = J(np.array([-50.0, 50.0, 0.0, 3.0, 30.0])), J(np.array([0.0, 1.0, 1.0, 0.0, 1.0]))
    want = jax.grad(lambda a: ol.sigmoid_focal_loss(a, y, gamma=0.5).sum())(x)
    got = jax.grad(lambda a: xo.sigmoid_focal_loss(a, y, gamma=0.5).sum())(x)
    assert np.all(np.isfinite(np.asarray(got)))
    close(got, want, scale=1)


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", sorted(CASES))
def test_half_precision(ol, name):
    """float16 in, float16 out; xent computes in float32 and rounds once (optax in float16)."""
    x, y, kwargs = _case(name, np.float32)
    x16 = x.astype(np.float16)
    y16 = y if y.dtype.kind == "i" else y.astype(np.float16)
    want = getattr(ol, name)(J(x16), J(y16), **kwargs)
    got = getattr(xo, name)(J(x16), J(y16), **kwargs)
    assert got.dtype == want.dtype
    close(got, want, np.float16, ulps=8, scale=30)


def test_dtype_promotion(ol):
    x32, y64 = np.zeros((2, 3), np.float32), np.full((2, 3), 0.5)
    # sigmoid losses: labels cast to the logits' dtype; softmax and KL: promoted
    assert (
        xo.sigmoid_binary_cross_entropy(J(x32), J(y64)).dtype
        == ol.sigmoid_binary_cross_entropy(J(x32), J(y64)).dtype
    )
    assert (
        xo.softmax_cross_entropy(J(x32), J(y64)).dtype
        == ol.softmax_cross_entropy(J(x32), J(y64)).dtype
    )
    assert xo.kl_divergence(x32, y64).dtype == np.float64
    assert xo.sigmoid_focal_loss(x32, y64).dtype == np.float32


# --------------------------------------------------------------------------- errors


def _bad_inputs():
    f, i = np.zeros((2, 3)), np.zeros(2, int)
    s = np.full((2, 3), 0.5)
    return [
        ("sigmoid_binary_cross_entropy", (np.zeros((2, 3), int), s), {}),
        ("sigmoid_binary_cross_entropy", (f, np.zeros(2)), {}),
        ("sigmoid_binary_cross_entropy", (f, np.zeros((2, 2))), {}),
        ("sigmoid_focal_loss", (f, np.zeros((2, 2))), {}),
        ("softmax_cross_entropy", (np.zeros((2, 3), int), s), {}),
        ("softmax_cross_entropy", (f, np.zeros((2, 2))), {}),
        ("softmax_cross_entropy", (f, s), {"axis": 2}),
        ("softmax_cross_entropy", (f, s), {"axis": (1, 1)}),
        ("softmax_cross_entropy", (f, s), {"axis": [0]}),
        ("softmax_cross_entropy", (f, s), {"where": np.ones((2, 3), int)}),
        ("softmax_cross_entropy", (f, s), {"axis": None, "where": np.ones(2, bool)}),
        ("softmax_cross_entropy", (np.zeros(()), np.zeros(())), {}),
        ("safe_softmax_cross_entropy", (f, np.zeros((2, 2))), {}),
        ("poly_loss_cross_entropy", (f, np.zeros((2, 3), int)), {}),
        ("poly_loss_cross_entropy", (f, np.zeros((2, 2))), {}),
        ("softmax_cross_entropy_with_integer_labels", (np.zeros((2, 3), int), i), {}),
        ("softmax_cross_entropy_with_integer_labels", (f, np.zeros(2)), {}),
        ("softmax_cross_entropy_with_integer_labels", (f, np.zeros(2, bool)), {}),
        ("softmax_cross_entropy_with_integer_labels", (f, np.zeros(3, int)), {}),
        ("softmax_cross_entropy_with_integer_labels", (f, np.zeros((2, 1), int)), {}),
        ("softmax_cross_entropy_with_integer_labels", (f, np.zeros((), int)), {}),
        ("softmax_cross_entropy_with_integer_labels", (f, i), {"axis": None}),
        ("softmax_cross_entropy_with_integer_labels", (f, i), {"axis": np.int64(1)}),
        ("softmax_cross_entropy_with_integer_labels", (f, i), {"axis": [1]}),
        ("softmax_cross_entropy_with_integer_labels", (f, i), {"axis": 2}),
        ("softmax_cross_entropy_with_integer_labels", (f, i), {"axis": (1, 1)}),
        ("softmax_cross_entropy_with_integer_labels", (f, i), {"where": np.ones(3, bool)}),
        ("softmax_cross_entropy_with_integer_labels", (f, i), {"where": np.ones((2, 3), int)}),
        ("kl_divergence", (f, np.zeros((2, 3), int)), {}),
        ("kl_divergence", (np.zeros((2, 3), int), s), {}),
        ("kl_divergence", (f, np.zeros((2, 2))), {}),
        ("kl_divergence", (f, s), {"axis": (1, 1)}),
        ("kl_divergence", (f, s), {"where": np.ones(2, bool)}),
        ("kl_divergence", (f, s), {"where": np.ones(3, int)}),
        ("kl_divergence", (np.zeros(()), np.zeros(())), {}),
        ("kl_divergence_with_log_targets", (f, np.zeros((2, 2))), {}),
    ]


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    _bad_inputs(),
    ids=[f"{n}-{k}" for k, (n, _, _) in enumerate(_bad_inputs())],
)
def test_errors_as_optax(ol, name, args, kwargs):
    def jaxed(v):
        return J(v) if isinstance(v, np.ndarray) else v

    with pytest.raises(Exception) as optax_error:
        getattr(ol, name)(*map(jaxed, args), **{k: jaxed(v) for k, v in kwargs.items()})
    with pytest.raises(optax_error.type):
        getattr(xo, name)(*args, **kwargs)


def test_keyword_only_options():
    x, y = np.zeros((2, 3)), np.full((2, 3), 0.5)
    with pytest.raises(TypeError):
        xo.poly_loss_cross_entropy(x, y, 2.0)
    with pytest.raises(TypeError):
        xo.sigmoid_focal_loss(x, y, 0.25)
