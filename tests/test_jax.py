"""JAX: the family functions reach autodiff through their analytic gradient (a custom JVP,
``xent._kernels._jax``), and every transformation keeps working through it.

The fast path is shown taken (the custom JVP in the jaxpr, its rule run under
``jax.value_and_grad``, no gather transpose or maximum derivative in the gradient's
jaxpr); values and gradients match optax and plain float64 formulas written here; grad of
grad matches ``jax.hessian`` of those formulas; vmap, jit, forward mode and tangents on
targets and weights (the rule's fall-back to ``jax.jvp`` of the reference) work. Shapes are
tiny: every test compiles.
"""

from __future__ import annotations

import numpy as np
import pytest

import xent
from helpers import assert_close

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RNG = np.random.default_rng(7)
X = RNG.normal(size=(5, 4)) * 3
Y = (RNG.uniform(size=(5, 4)) < 0.5).astype(float)
SOFT_Y = RNG.uniform(size=(5, 4))
LABELS = RNG.integers(0, 4, size=5)
T = RNG.dirichlet(np.ones(4), size=5)
P = RNG.uniform(0.05, 0.95, size=(5, 4))
W = RNG.uniform(0.5, 2.0, size=(4,))


@pytest.fixture(scope="module")
def jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.fixture(scope="module")
def jnp(jax):
    return jax.numpy


@pytest.fixture(scope="module")
def ol(jax):
    return pytest.importorskip("optax").losses


def close(actual, expected, ulps=64, scale=1.0, dtype=np.float64):
    assert_close(np.asarray(actual), np.asarray(expected), dtype, ulps, scale)


# --------------------------------------------------------------------------- plain formulas
# written with jax.numpy from the definitions, independent of xent's code


def plain(jnp, name):
    import jax

    def bce(x, y):
        return jnp.mean(jnp.logaddexp(0.0, x) - x * y)

    def bce_probs(p, y):
        return jnp.mean(-(y * jnp.log(p) + (1 - y) * jnp.log1p(-p)))

    def focal(x, y, alpha=0.25, gamma=2.0):  # torchvision's definition
        p = jax.nn.sigmoid(x)
        ce = jnp.logaddexp(0.0, x) - x * y
        p_t = p * y + (1 - p) * (1 - y)
        return jnp.mean((alpha * y + (1 - alpha) * (1 - y)) * ce * (1 - p_t) ** gamma)

    def ce_index(x, labels):
        lse = jax.scipy.special.logsumexp(x, axis=-1)
        return jnp.mean(lse - jnp.take_along_axis(x, labels[:, None], axis=-1)[:, 0])

    def ce_probs(x, t):
        return jnp.mean(-jnp.sum(t * jax.nn.log_softmax(x, axis=-1), axis=-1))

    return {
        "bce": bce,
        "bce_probs": bce_probs,
        "focal": focal,
        "ce_index": ce_index,
        "ce_probs": ce_probs,
    }[name]


CASES = {  # name -> (xent's loss, input, target)
    "bce": (xent.binary_cross_entropy_with_logits, X, Y),
    "bce_probs": (xent.binary_cross_entropy, P, SOFT_Y),
    "focal": (lambda x, y: xent.sigmoid_focal_loss(x, y, reduction="mean"), X, Y),
    "ce_index": (xent.cross_entropy, X, LABELS),
    "ce_probs": (xent.cross_entropy, X, T),
}


def arrays(jnp, case, dtype=np.float64):
    _, x, target = CASES[case]
    target = target if target.dtype.kind == "i" else target.astype(dtype)
    return jnp.asarray(x.astype(dtype)), jnp.asarray(target)


# --------------------------------------------------------------------------- the fast path


@pytest.mark.parametrize("case", list(CASES))
def test_the_custom_jvp_serves_jit_and_grad(jax, jnp, monkeypatch, case):
    from xent._kernels import _jax

    fn = CASES[case][0]
    x, target = arrays(jnp, case)
    assert "custom_jvp_call" in str(jax.make_jaxpr(fn)(x, target))
    rules = []
    contract = _jax._contract
    monkeypatch.setattr(_jax, "_contract", lambda *a: rules.append(a) or contract(*a))
    _, grad = jax.jit(jax.value_and_grad(fn))(x, target)
    assert len(rules) == 1  # the JVP rule traced once, with the analytic gradient
    assert grad.shape == x.shape
    gradient_jaxpr = str(jax.make_jaxpr(jax.grad(fn))(x, target))
    # no gather transpose, and the softmax's maximum taken once (no derivative through it)
    assert "scatter" not in gradient_jaxpr
    assert gradient_jaxpr.count("reduce_max") == (1 if case.startswith("ce") else 0)


def test_optax_front_ends_share_the_path(jax, jnp, monkeypatch):
    from xent import optax as xo
    from xent._kernels import _jax

    rules = []
    contract = _jax._contract
    monkeypatch.setattr(_jax, "_contract", lambda *a: rules.append(a) or contract(*a))
    x, t = arrays(jnp, "ce_probs")
    jax.jit(jax.grad(lambda a: xo.softmax_cross_entropy(a, t).mean()))(x)
    jax.jit(jax.grad(lambda a: xo.sigmoid_binary_cross_entropy(a, jnp.asarray(Y)).mean()))(x)
    assert len(rules) == 2


def test_concrete_arrays_run_the_reference_as_it_is(jnp, monkeypatch):
    from xent._kernels import _jax

    made = []
    custom_jvp = _jax.jax.custom_jvp
    monkeypatch.setattr(_jax.jax, "custom_jvp", lambda f: made.append(f) or custom_jvp(f))
    x, y = arrays(jnp, "bce")
    close(xent.binary_cross_entropy_with_logits(x, y), plain(jnp, "bce")(x, y), scale=10)
    assert made == []  # no transformation: nothing to differentiate


# --------------------------------------------------------------------------- values, gradients


OPTAX = {
    "bce": lambda ol, x, y: ol.sigmoid_binary_cross_entropy(x, y).mean(),
    "focal": lambda ol, x, y: ol.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0).mean(),
    "ce_index": lambda ol, x, t: ol.softmax_cross_entropy_with_integer_labels(x, t).mean(),
    "ce_probs": lambda ol, x, t: ol.softmax_cross_entropy(x, t).mean(),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", list(OPTAX))
def test_value_and_grad_match_optax(jax, jnp, ol, case, dtype):
    fn = CASES[case][0]
    x, target = arrays(jnp, case, dtype)
    loss, grad = jax.jit(jax.value_and_grad(fn))(x, target)
    want_loss, want_grad = jax.jit(jax.value_and_grad(lambda a, b: OPTAX[case](ol, a, b)))(
        x, target
    )
    assert loss.dtype == dtype and grad.dtype == dtype
    close(loss, want_loss, scale=10, dtype=dtype)
    close(grad, want_grad, scale=1.0, dtype=dtype)


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_matches_central_differences(jnp, case):
    import jax

    from helpers import central_difference

    fn = jax.jit(CASES[case][0])
    x, target = arrays(jnp, case)
    grad = jax.jit(jax.grad(fn))(x, target)
    want = central_difference(lambda v: np.asarray(fn(jnp.asarray(v), target)), np.asarray(x))
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("case", list(CASES))
def test_grad_of_grad_matches_the_hessian_of_the_formula(jax, jnp, case):
    fn = CASES[case][0]
    x, target = arrays(jnp, case)
    hessian = jax.jit(jax.jacfwd(jax.grad(fn)))(x, target)
    reverse = jax.jit(jax.jacrev(jax.grad(fn)))(x, target)  # reverse over reverse too
    want = jax.jit(jax.hessian(plain(jnp, case)))(x, target)
    close(hessian, want, scale=1.0)
    close(reverse, want, scale=1.0)


def test_forward_mode_and_reduction_none_per_position(jax, jnp):
    """jacfwd and jacrev of one loss per position: the rule's tangent sums along the class
    axis only (classes on axis 1 of (N, C, d))."""
    z = jnp.asarray(RNG.normal(size=(3, 4, 2)))
    labels = jnp.asarray(RNG.integers(0, 4, size=(3, 2)))

    def ours(a):
        return xent.cross_entropy(a, labels, reduction="none")

    def formula(a):
        logp = jax.nn.log_softmax(a, axis=1)
        return -jnp.take_along_axis(logp, labels[:, None, :], axis=1)[:, 0, :]

    want = jax.jit(jax.jacfwd(formula))(z)
    close(jax.jit(jax.jacfwd(ours))(z), want, scale=1.0)
    close(jax.jit(jax.jacrev(ours))(z), want, scale=1.0)
    x, y = arrays(jnp, "bce")
    none = {"reduction": "none"}
    elementwise = jax.jacfwd(lambda a: xent.binary_cross_entropy_with_logits(a, y, **none))
    want = jax.jacfwd(lambda a: jnp.logaddexp(0.0, a) - a * y)
    close(jax.jit(elementwise)(x), jax.jit(want)(x), scale=1.0)


def test_vmap_of_the_loss_and_of_its_gradient(jax, jnp):
    x, labels = arrays(jnp, "ce_index")
    rows = jax.jit(jax.vmap(lambda a, b: xent.cross_entropy(a, b)))(x, labels)
    want = jax.jit(jax.vmap(lambda a, b: jax.scipy.special.logsumexp(a) - a[b]))(x, labels)
    close(rows, want, scale=10)
    grads = jax.jit(jax.vmap(jax.grad(lambda a, b: xent.cross_entropy(a, b))))(x, labels)
    close(grads, jax.nn.softmax(x, axis=-1) - jax.nn.one_hot(labels, 4), scale=1.0)
    x, y = arrays(jnp, "bce")
    per_row = jax.jit(jax.vmap(jax.grad(xent.binary_cross_entropy_with_logits)))(x, y)
    close(per_row, (jax.nn.sigmoid(x) - y) / 4, scale=1.0)


# --------------------------------------------------------------------------- other tangents


def test_tangents_on_targets_and_weights(jax, jnp):
    """Tangents on the target (and weight) go through jax.jvp of the reference; with one
    on the input too, both parts add."""
    x, y = arrays(jnp, "bce")
    w = jnp.asarray(RNG.uniform(0.5, 2.0, size=(5, 4)))
    pw = jnp.asarray(W)

    def ours(a, b, c, d):
        return xent.binary_cross_entropy_with_logits(a, b, weight=c, pos_weight=d)

    def formula(a, b, c, d):
        return jnp.mean(c * ((1 - b) * jnp.logaddexp(0.0, a) + d * b * jnp.logaddexp(0.0, -a)))

    for argnums in [(1,), (2, 3), (0, 1, 2, 3)]:
        got = jax.jit(jax.grad(ours, argnums=argnums))(x, y, w, pw)
        want = jax.jit(jax.grad(formula, argnums=argnums))(x, y, w, pw)
        for g, e in zip(got, want, strict=True):
            close(g, e, scale=1.0)
    dots = tuple(jnp.asarray(RNG.normal(size=np.shape(a))) for a in (x, y, w, pw))
    _, tangent = jax.jit(lambda *p: jax.jvp(ours, p, dots))(x, y, w, pw)
    _, want = jax.jit(lambda *p: jax.jvp(formula, p, dots))(x, y, w, pw)
    close(tangent, want, scale=10)
    z, t = arrays(jnp, "ce_probs")
    got = jax.jit(jax.grad(xent.cross_entropy, argnums=(0, 1)))(z, t)
    want = jax.jit(jax.grad(plain(jnp, "ce_probs"), argnums=(0, 1)))(z, t)
    for g, e in zip(got, want, strict=True):
        close(g, e, scale=10)


def test_value_and_grad_of_xent_under_jit(jax, jnp):
    """xent.value_and_grad on JAX arrays (need_grad=True) returns the reference's own
    gradient, under jit too, and it stays differentiable."""
    x, labels = arrays(jnp, "ce_index")
    loss, grad = jax.jit(xent.value_and_grad(xent.cross_entropy))(x, labels)
    close(loss, jax.jit(plain(jnp, "ce_index"))(x, labels), scale=10)
    close(grad, jax.jit(jax.grad(plain(jnp, "ce_index")))(x, labels), scale=1.0)
    of_grad = jax.grad(lambda a: xent.value_and_grad(xent.cross_entropy)(a, labels)[1].sum())
    second = jax.jit(of_grad)(x)
    close(second, np.zeros_like(x), scale=1.0)  # rows of the gradient sum to 0
