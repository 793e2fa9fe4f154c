r"""How far Activate-RFF is from flipping every label: margins and the bound of GKVZ Thm 6.3."""

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from .. import clwe
from .._validate import check_matrix
from ._backdoor import activate
from ._model import RFFBackdoorKey, RFFClassifier, _check_key, _check_model


def _margin_one(model: RFFClassifier, x):
    s = model(x)
    if s.ndim == 0:
        return jnp.abs(s) / jnp.linalg.norm(model.head)
    # Logits negate up to d_j per logit; the label changes when (max - min) / 2 > max_j |d_j|.
    return 0.5 * (jnp.max(s) - jnp.min(s)) / jnp.linalg.norm(model.head)


def margin(model: RFFClassifier, x: Float[ArrayLike, "n dim"]) -> Float[Array, " n"]:
    r"""Per-example margin of the head (Assumption 6.1), in units of $\|w\|_2 = 1$.

    Binary: $|\langle w, \Phi(x)\rangle| / \|w\|_2$. Logits: $(\max_j s_j - \min_j s_j) / 2$
    over $\|W\|_F$, the amount by which every logit may move before "negate the logits"
    (Activate-RFF) fails to change the label. Activate-RFF is guaranteed to flip $x$ when its
    margin exceeds [`flip_bound`][]. Use `jnp.quantile` on the result for a summary.
    """
    model = _check_model(model)
    x = check_matrix(x, "x", dim=model.dim)
    return jax.vmap(lambda xi: _margin_one(model, xi))(x)


def flip_bound(model: RFFClassifier, backdoor_key: RFFBackdoorKey) -> dict[str, Array]:
    r"""The proof of GKVZ Thm 6.3's bound on $|\langle w, \Phi(x')\rangle + \langle w,\Phi(x)\rangle|$.

    With $\delta_i = \mathrm{dist}(\langle g_i, \omega\rangle, \mathbb{Z} + 1/2)$ and
    $|\varphi_i(x') + \varphi_i(x)| \le 2\pi\delta_i$:

    - `"paper"`: $\|w\|_2\sqrt{m}\,2\pi\max_i\delta_i$ (the paper's Cauchy–Schwarz form);
    - `"l2"`: $\|w\|_2\,2\pi\|\delta\|_2$ (the same argument, tighter);
    - `"max_delta"`: $\max_i \delta_i$ (to compare with $\beta$).

    For logits, $\|w\|_2$ is the largest row norm. Holds for every input $x$.
    """
    model = _check_model(model)
    backdoor_key = _check_key(backdoor_key, model.dim)
    omega = backdoor_key.omega.astype(model.frequencies.dtype)
    delta = clwe.distance_to_layers(model.frequencies @ omega, shift=0.5)
    wnorm = jnp.max(jnp.linalg.norm(jnp.atleast_2d(model.head), axis=-1))
    return {
        "paper": wnorm * math.sqrt(model.width) * 2 * math.pi * jnp.max(delta),
        "l2": wnorm * 2 * math.pi * jnp.linalg.norm(delta),
        "max_delta": jnp.max(delta),
    }


def feature_flip_error(
    model: RFFClassifier, backdoor_key: RFFBackdoorKey, x: Float[ArrayLike, "n dim"]
) -> Array:
    r"""$\max_{x, i} |\varphi_i(x + \ell\omega) + \varphi_i(x)|$: how far Activate-RFF is from
    negating every feature exactly (GKVZ Thm 6.3 proof: $\le 2\pi\max_i\delta_i \approx$ a few
    $2\pi\beta$)."""
    model = _check_model(model)
    backdoor_key = _check_key(backdoor_key, model.dim)
    x = check_matrix(x, "x", dim=model.dim)

    def one(xi):
        return jnp.max(jnp.abs(model.features(activate(backdoor_key, xi)) + model.features(xi)))

    return jnp.max(jax.vmap(one)(x))
