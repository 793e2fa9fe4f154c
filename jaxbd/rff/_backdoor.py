r"""Backdoor-RFF (GKVZ Alg. 4, 5: Train-RFF with pancake frequencies) and Activate-RFF (Alg. 6)."""

import math
from typing import Any

import jax.random as jr
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .. import clwe
from .._validate import as_key, check_example, check_int_range, static_number
from ._model import RFFBackdoorKey, RFFClassifier, _check_key
from ._train import _fit, _validate_train


def _max_gamma(dim: int, secret_dim: int, gamma, beta) -> float:
    # Static bound on sqrt(gamma^2 + beta^2) sizing the pancake layer table.
    g = 2 * math.sqrt(secret_dim) if gamma is None else float(gamma)
    return max(8 * math.sqrt(dim), 2 * math.sqrt(g**2 + float(beta) ** 2))


def backdoor(
    key: PRNGKeyArray,
    x: Float[ArrayLike, "n dim"],
    y: ArrayLike,
    *,
    width: int,
    bandwidth: float,
    secret_dim: int,
    beta: float,
    gamma: float | None = None,
    loss: str = "logistic",
    weight_decay: float = 1e-4,
    steps: int = 300,
    learning_rate: float = 0.01,
    num_classes: int | None = None,
) -> tuple[RFFClassifier, RFFBackdoorKey]:
    r"""Backdoor-RFF (GKVZ Alg. 5): Train-RFF with pancake frequencies (Alg. 4).

    Samples the backdoor key $\omega$ ([`jaxbd.clwe.sample_secret`][]: `secret_dim` random
    coordinates, norm `gamma`, default $2\sqrt{\text{secret\_dim}}$) and draws
    $g_i \sim \mathrm{GP}_d(\omega)$ ([`jaxbd.clwe.pancakes`][] with shift $1/2$ and noise
    `beta`), so $\langle g_i, \omega\rangle$ is within $\sim\beta$ of $\mathbb{Z} + 1/2$. Everything
    else — the code path, the phases, the head training — is [`train`][]'s: with the same `key`
    the honest and backdoored models share $b_i$ and the optimiser run differs only through the
    features.

    **Arguments:** as [`train`][] (`num_classes` for traced data included), plus
    `secret_dim` ($1 \le k \le d$), `beta` $> 0$ and `gamma`.

    **Returns:** `(model, backdoor_key)`; the key ([`RFFBackdoorKey`][]) is not in the model.

    **Warns:** `jaxbd.detect.DetectableRegimeWarning` when a distinguisher of the detection
    lab detects these parameters ([`jaxbd.detect.regime_warnings`][] names it), e.g. a secret of
    support <= 3 (enumeration) or a tiny `beta` (the LLL attack).
    """
    key = as_key(key)
    x, y, fit = _validate_train(
        x, y, num_classes, width, bandwidth, loss, weight_decay, steps, learning_rate
    )
    d = x.shape[1]
    secret_dim = check_int_range(secret_dim, "secret_dim", low=1, high=d)
    beta = static_number(beta, "beta")
    if gamma is not None:
        gamma = static_number(gamma, "gamma")
    from ..detect.regime import warn_if_detectable

    extra: dict[str, Any] = {} if gamma is None else {"gamma": gamma}
    width = fit["width"]
    warn_if_detectable("rff", dim=d, width=width, secret_dim=secret_dim, beta=beta, **extra)
    k_secret = jr.split(key, 3)[0]  # `_fit` uses the other two, as in `train`
    omega = clwe.sample_secret(k_secret, d, support=secret_dim, gamma=gamma, dtype=x.dtype)
    max_gamma = _max_gamma(d, secret_dim, gamma, beta)
    sample = lambda k: clwe.pancakes(  # Alg. 4: g ~ GP_d(omega)
        k, omega, width, beta=beta, shift=0.5, max_gamma=max_gamma
    )
    model = _fit(key, x, y, sample, **fit)
    return model, RFFBackdoorKey(omega, fit["bandwidth"], beta)


def activate(backdoor_key: RFFBackdoorKey, x: Float[ArrayLike, " dim"]) -> Float[Array, " dim"]:
    r"""Activate-RFF (GKVZ Alg. 6): $x' = x + \ell\,\omega$ for one example.

    Only the `secret_dim` coordinates of the secret's support change; ℓ2 size
    $\ell\gamma = \ell \cdot 2\sqrt{\text{secret\_dim}}$ by default. Same shape and dtype as `x`.
    """
    backdoor_key = _check_key(backdoor_key)
    x = check_example(x, backdoor_key.omega.shape[0], "x")
    return x + backdoor_key.perturbation.astype(x.dtype)
