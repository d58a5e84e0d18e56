"""NumPy versions of the Keras activations the dense autoencoder may use.

Kept to the ones whose Keras definitions are exact closed forms, so a NumPy forward pass
matches Keras within float rounding (the parity test checks this).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _linear(x: Array) -> Array:
    return x


def _relu(x: Array) -> Array:
    return np.maximum(x, 0.0)


def _tanh(x: Array) -> Array:
    return np.tanh(x)


def _sigmoid(x: Array) -> Array:
    # Split by sign so large |x| neither overflows exp nor loses precision.
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _elu(x: Array) -> Array:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def _selu(x: Array) -> Array:
    return _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))


def _softplus(x: Array) -> Array:
    return np.logaddexp(0.0, x)


def _silu(x: Array) -> Array:
    return x * _sigmoid(x)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "linear": _linear,
    "relu": _relu,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "elu": _elu,
    "selu": _selu,
    "softplus": _softplus,
    "silu": _silu,
    "swish": _silu,
}


def activation(name: str) -> Callable[[Array], Array]:
    """The NumPy function for a Keras activation name (KeyError lists the known ones)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(sorted(ACTIVATIONS))
        raise KeyError(f"unsupported activation {name!r}; known: {known}") from None
