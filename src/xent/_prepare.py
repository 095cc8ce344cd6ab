"""Argument preparation shared by every convention (PyTorch, Keras, tf.nn).

A front end converts its arguments (lists too) to arrays of one namespace, checks
their dtypes, shapes and axes, and casts them to the compute dtype (halves compute
in float32) here, then calls the family math in ``xent._binary`` /
``xent._categorical`` with the arrays in the caller's layout. What differs between
conventions (argument names, error wording, whether lists are float32) is passed
in; the checks themselves are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from . import _kernels
from ._array import (
    Array,
    as_array,
    astype,
    broadcast_shape,
    compute_dtype,
    index_dtype,
    is_array,
    is_floating,
    namespace,
    result_float_dtype,
)
from ._checks import (
    check_broadcasts_to,
    check_class_weight,
    check_floating,
    check_integer,
    check_real,
    check_same_shape,
    check_values,
)

# --------------------------------------------------------------------------- the pieces


def convert(
    prediction: Any,
    target: Any,
    *,
    names: tuple[str, str],
    lists_as_float32: bool,
    xp: Any = None,
) -> tuple[Any, Array, Array]:
    """(xp, prediction, target) as arrays of one namespace (``xp``, else theirs): the
    prediction floating (lists as float32 when ``lists_as_float32``, as Keras and
    TensorFlow make them), the target real (floating, integer or bool), converted
    like the prediction."""
    xp = namespace(prediction, target) if xp is None else xp
    as_float32 = lists_as_float32 and not is_array(prediction)
    prediction = as_array(xp, prediction, dtype=xp.float32 if as_float32 else None)
    check_floating(xp, prediction, names[0])
    target = as_array(xp, target, like=prediction)
    check_real(xp, target, names[1])
    return xp, prediction, target


def check_axis(axis: Any, shape: tuple[int, ...], name: str) -> int:
    """`axis` (an int, negative counting from the end) as a non-negative axis of `shape`."""
    if isinstance(axis, bool) or not hasattr(axis, "__index__"):
        raise ValueError(
            f"`axis` must be of type `int`. Received: axis={axis!r} of type {type(axis)}"
        )
    axis = int(axis)
    if not -len(shape) <= axis < len(shape):
        raise ValueError(
            f"axis={axis} is out of range for {name} of shape {shape}; pass an axis of "
            f"{name}, in [-rank, rank) (the default -1 needs at least one dimension)"
        )
    return axis % len(shape)


def same_shape_pair(
    prediction: Any,
    target: Any,
    *,
    names: tuple[str, str],
    shape_message: str,
    target_through_prediction_dtype: bool = False,
) -> tuple[Any, Array, Array, Any]:
    """(xp, target, prediction, the prediction's dtype) for the losses whose target has
    the prediction's shape (Keras' and tf.nn's), both in the compute dtype; lists are
    float32. ``shape_message``, the whole error, is formatted with ``target`` and
    ``input`` (the shapes). With ``target_through_prediction_dtype`` the target is
    first cast to the prediction's dtype, as Keras does (so a float16 prediction
    rounds its targets)."""
    xp, prediction, target = convert(prediction, target, names=names, lists_as_float32=True)
    if tuple(target.shape) != tuple(prediction.shape):
        raise ValueError(
            shape_message.format(target=tuple(target.shape), input=tuple(prediction.shape))
        )
    dtype = prediction.dtype
    ct = compute_dtype(xp, dtype)
    if target_through_prediction_dtype:
        target = astype(xp, target, dtype)
    return xp, astype(xp, target, ct), astype(xp, prediction, ct), dtype


# --------------------------------------------------------------------------- PyTorch's


@dataclass
class Prepared:
    """Input (and target) converted and checked, in the compute dtype."""

    xp: Any
    x: Array
    input_dtype: Any
    out_dtype: Any
    compute_dtype: Any

    def _operand(self, value: Any, name: str, check: Any) -> Array | None:
        """weight-like argument: converted, `check(array)`-ed, in the compute dtype."""
        if value is None:
            return None
        array = as_array(self.xp, value, like=self.x)
        check_real(self.xp, array, name)
        check(array)
        if array.dtype == self.x.dtype:  # x's dtype: the compute dtype, or a half kept
            return array
        return astype(self.xp, array, self.compute_dtype)

    def result(self, loss: Array, grad: Array | None) -> tuple[Array, Array | None]:
        """The loss in the output dtype, the gradient in the input's."""
        xp = self.xp
        loss = astype(xp, loss, self.out_dtype)
        return loss, None if grad is None else astype(xp, grad, self.input_dtype)


@dataclass
class Binary(Prepared):
    y: Array = None

    def operand(self, value: Any, name: str) -> Array | None:
        """weight / pos_weight: an array that broadcasts to the input's shape."""
        shape = tuple(self.x.shape)
        return self._operand(value, name, lambda a: check_broadcasts_to(a, shape, name))


def prepare_binary(input: Any, target: Any, shape_message: str, *others: Any) -> Binary:
    """Convert (lists too), check dtypes and shapes, cast to the compute dtype.

    The input must be floating; the target may be floating, integer or bool. The
    result has the promoted floating dtype of the two; float16/bfloat16 are
    computed in float32 and returned in their own dtype.
    """
    xp, input, target = convert(
        input,
        target,
        names=("input", "target"),
        lists_as_float32=False,
        xp=namespace(input, target, *others),
    )
    check_same_shape(input, target, shape_message)
    out_dtype = result_float_dtype(xp, input.dtype, target.dtype)
    ct = compute_dtype(xp, out_dtype)
    if target.dtype == input.dtype and _kernels.takes_halves(xp, input):
        # a half input and target go to the kernels as they are (the reference, if
        # the kernel declines, gets float32 copies); so do weights of their dtype
        return Binary(xp, input, input.dtype, out_dtype, ct, y=target)
    # copy=False: no copy of arrays already in the compute dtype (none is written to)
    x, y = astype(xp, input, ct), astype(xp, target, ct)
    return Binary(xp, x, input.dtype, out_dtype, ct, y=y)


@dataclass
class Broadcasting(Prepared):
    """Input, target (and weight) of the losses whose operands broadcast (kl_div, the
    soft margin losses), checked, in the compute dtype, in the caller's shapes."""

    y: Array = None
    weight: Array | None = None


def prepare_broadcasting(
    input: Any,
    target: Any,
    weight: Any = None,
    *,
    name: str,
    target_kinds: tuple[str, ...],
    promote: bool,
    target_to_input: bool,
) -> Broadcasting:
    """Convert (lists too) and check the operands of a loss whose target (and weight)
    broadcast as PyTorch's elementwise operations do.

    The input must be floating; the target of one of `target_kinds` ('floating',
    'integral', 'bool'; PyTorch refuses the others), the weight real. With
    `target_to_input` the target must broadcast to the input's shape (PyTorch
    writes into an output of the input's shape), else all operands broadcast
    together. The result has the input's dtype, or with `promote` the promotion of
    every floating operand; halves compute in float32.
    """
    xp = namespace(input, target, weight)
    input = as_array(xp, input)
    target = as_array(xp, target, like=input)
    check_floating(xp, input, "input")
    kinds = {"floating": is_floating(xp, target.dtype)}
    kinds["integral"] = not kinds["floating"] and xp.isdtype(target.dtype, "integral")
    kinds["bool"] = not kinds["floating"] and xp.isdtype(target.dtype, "bool")
    if not any(kinds[k] for k in target_kinds):
        raise TypeError(
            f"{name}: the target has dtype {target.dtype}; pass a target of dtype "
            + " or ".join(target_kinds)
            + " (e.g. target.astype(input.dtype)), as PyTorch requires"
        )
    arrays = [("input", input), ("target", target)]
    if weight is not None:
        weight = as_array(xp, weight, like=input)
        check_real(xp, weight, "weight")
        arrays.append(("weight", weight))
    shapes = [tuple(a.shape) for _, a in arrays]
    if target_to_input:
        for what, array in arrays[1:]:
            check_broadcasts_to(array, shapes[0], what)
    else:
        shape: tuple[int, ...] | None = ()
        for s in shapes:
            shape = None if shape is None else broadcast_shape(shape, s)
        if shape is None:
            shown = ", ".join(f"{what} {s}" for (what, _), s in zip(arrays, shapes, strict=True))
            raise ValueError(
                f"{name}: the shapes of {shown} do not broadcast together; pass a target "
                "(and weight) of the input's shape, or of a shape that broadcasts with it"
            )
    dtypes = [a.dtype for _, a in arrays] if promote else [input.dtype]
    out_dtype = result_float_dtype(xp, *dtypes)
    ct = compute_dtype(xp, out_dtype)
    x, y = astype(xp, input, ct), astype(xp, target, ct)
    w = None if weight is None else astype(xp, weight, ct)
    return Broadcasting(xp, x, input.dtype, out_dtype, ct, y=y, weight=w)


@dataclass
class Categorical(Prepared):
    """Input and target, checked, in the compute dtype and the caller's layout.

    ``target`` holds int64 class indices (``is_index``) of the input's shape without
    ``class_axis``, or class probabilities of the input's shape.
    """

    target: Array = None
    is_index: bool = True
    class_axis: int = 1

    @property
    def n_classes(self) -> int:
        return self.x.shape[self.class_axis]

    def weight(self, value: Any) -> Array | None:
        """A 1-D weight with one value per class; with index targets an array must have
        the input's dtype (PyTorch raises "expected scalar type Float but found Double"
        otherwise; with probability targets it promotes, and so does xent)."""
        if self.is_index and is_array(value):
            value = as_array(self.xp, value, like=self.x)  # a NumPy weight joins torch's
        if self.is_index and is_array(value) and value.dtype != self.input_dtype:
            raise TypeError(
                f"weight has dtype {value.dtype}, the input {self.input_dtype}; pass a class "
                "weight of the input's dtype (e.g. weight.astype(input.dtype)), as PyTorch "
                "requires"
            )
        return self._operand(value, "weight", lambda a: check_class_weight(a, self.n_classes))


def _check_wrapped_uint64(xp: Any, target: Array, n_classes: int) -> Array:
    """uint64 class indices cast to int64: those above int64's range (no class index,
    nor an ignore_index, which is an int64 too) wrapped to negative values; named
    with their real value (2**64 - 1, not -1). Compared after the cast, as torch has
    no comparisons of uint64 tensors."""

    def fail(values: Any, good: Any) -> NoReturn:
        bad = int(values[~good].flat[0]) + 2**64
        raise IndexError(
            f"Target {bad} is out of bounds for {n_classes} classes; pass class indices in "
            f"[0, {n_classes})"
        )

    return check_values(xp, target, lambda m, a: a >= 0, fail)


def prepare_categorical(
    input: Any, target: Any, weight: Any, *, probabilities: bool, name: str
) -> Categorical:
    """Convert (lists too) and check input and target; decide the target's form.

    The class axis is 1 (0 for an unbatched (C,) input). A target of the input's
    shape holds class probabilities (when ``probabilities``, else it is refused);
    one of the input's shape without the class axis holds class indices (for a
    (C,) input: shape () or (1,)). Index targets give the input's dtype, probability
    targets the promotion of both; halves compute in float32.
    """
    xp = namespace(input, target, weight)
    input = as_array(xp, input)
    target = as_array(xp, target, like=input)
    check_floating(xp, input, "input")
    if input.ndim == 0:
        raise ValueError(
            "Expected 1 or more dimensions (got 0) for the input; pass logits of shape (C,), "
            "(N, C) or (N, C, d1, ..., dK)"
        )
    class_axis = 0 if input.ndim == 1 else 1
    shape, target_shape = tuple(input.shape), tuple(target.shape)
    index_shape = shape[:class_axis] + shape[class_axis + 1 :]
    index_forms = ((), (1,)) if input.ndim == 1 else (index_shape,)
    if probabilities and target_shape == shape:
        if not is_floating(xp, target.dtype):
            raise TypeError(
                f"a target of the input's shape {shape} holds class probabilities and must be "
                f"floating, got dtype {target.dtype}; pass float probabilities, or class "
                f"indices of shape {index_shape}"
            )
        out_dtype = result_float_dtype(xp, input.dtype, target.dtype)
        is_index = False
    elif target_shape in index_forms:
        check_integer(
            xp,
            target,
            "target",
            "pass them as integers (e.g. target.astype(int64))"
            + (f", or class probabilities of the input's shape {shape}" if probabilities else ""),
        )
        unsigned64 = target.dtype == getattr(xp, "uint64", None)
        target = astype(xp, target, index_dtype(xp))
        if tuple(target.shape) != index_shape:  # (1,) for a (C,) input
            target = xp.reshape(target, index_shape)
        if unsigned64:
            target = _check_wrapped_uint64(xp, target, shape[class_axis])
        out_dtype = input.dtype
        is_index = True
    else:
        expected = f"class indices of shape {index_shape}"
        if probabilities:
            expected += f" or class probabilities of the input's shape {shape}"
        raise ValueError(
            f"{name}: a target of shape {target_shape} does not fit an input of shape {shape} "
            f"(classes on axis {class_axis}); pass {expected}"
        )
    ct = compute_dtype(xp, out_dtype)
    # half logits with index targets go to the kernel as they are (see prepare_binary)
    keep = is_index and _kernels.takes_halves(xp, input)
    x = input if keep else astype(xp, input, ct)
    if not is_index:
        target = astype(xp, target, ct)
    return Categorical(
        xp, x, input.dtype, out_dtype, ct, target=target, is_index=is_index, class_axis=class_axis
    )
