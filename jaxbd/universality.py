r"""No universal backdoor for >= 3 classes: the invalidating final layer (Chardouvelis–Dao Thm 3.1).

Chardouvelis & Dao, "On the impossibility of universal backdoors", §2–3: a model computes an
encoding $z = \Phi(x) \in \mathbb R^d$ and then a bias-free linear layer $W \in \mathbb R^{L\times d}$
followed by a strictly monotone activation (softmax), so the label is $\arg\max_i (Wz)_i$
(Def. 2.3). A backdoor is *universal* (Def. 2.2) if it tampers only with $\Phi$ and works for every
final layer $W$. Theorem 3.1: for $L \ge 3$ labels no such backdoor exists.

**The theorem, stated precisely (what [`invalidating_head`][] constructs).** Let $L \ge 3$, let
$z' = \Phi(\mathrm{Activate}(x))$ be the encoding of an activated input, $t$ the attacker's
target label and $c \ne t$ an optional clean label. Assume $z' \ne 0$, and $z \ne 0$ if $c$ is
given. Then there is a $W$ with

$$\max_{j \ne t} (Wz')_j \;\ge\; (Wz')_t + \mu\,\|z'\| \qquad\text{and}\qquad
(Wz)_c \;\ge\; \max_{j\ne c} (Wz)_j + \|z\|,$$

with $\mu \ge 0.9999$ (so $\arg\max Wz' \ne t$ and $\arg\max Wz = c$, strictly, with margins
proportional to the norms; every row of $W$ has norm $\le 2\sqrt 2$, so rounding errors are
$O(\epsilon\,\|z\|)$ and cannot close the margins). Hence a backdoor that leaves the
last layer alone fails, for this $W$, on this input — for *every* relation between $z$ and $z'$,
including the collinear ones (below). (If $z' = 0$, every bias-free head gives all-equal logits
and "the label of $z'$" is a tie-break convention; if $z = 0$ no head can give $z$ a strict
label: both are rejected with `ValueError`.)

**The argument** (the paper's proof is informal: it asserts the attacker can only use $z' = kz$
and concludes that the ranking reverses, which is only the case $k < 0$). Write
$u_1 = z/\|z\|$ and $z' = \alpha u_1 + \beta u_2$ with $u_2 \perp u_1$ a unit vector, $\beta \ge 0$
($\alpha^2+\beta^2 = \|z'\|^2$). Take three distinct labels $c$, $t$, $v$ (possible iff
$L \ge 3$) and put $W = A u_1^\top + B u_2^\top$ with
$A_c = 1, A_t = 0, A_v = -1$, $B_c = B_v = 1$, $B_t = 0$, and $A_j = B_j = -2$ for the other
labels. Then $Wz = \|z\|A$, whose strict maximum is $c$ with margin $\|z\|$ (row $t$ of $W$ is
zero, so $(Wz)_t = (Wz')_t = 0$ exactly), and $(Wz')_c = \alpha + \beta$,
$(Wz')_v = -\alpha + \beta$, so $\max_{j\ne t}(Wz')_j \ge |\alpha| + \beta \ge \|z'\|$.

- *Positively collinear*, $z' = kz$, $k > 0$ ($\beta = 0$, $\alpha > 0$): $Wz' = kWz$, the label
  does not change at all; the clean label $c \ne t$ wins on both.
- *Negatively collinear*, $z' = kz$, $k < 0$ (e.g. Activate-RFF, which negates every feature):
  $Wz' = -|k|Wz$ reverses the ranking, so $\arg\max Wz' = \arg\min Wz = v$. The attacker
  controls only the *reversed ranking*: the label he gets is whichever is last for $z$, and the
  head chooses that ($v \ne t$). This is where the third label is needed.
- *Not collinear* ($\beta > 0$): $z, z'$ are linearly independent and $Wz$, $Wz'$ can be
  prescribed independently; the construction above already does it.

For near-collinear inputs ($\beta < 10^{-2}\|z'\|$) the $u_2$ term is dropped: $u_2$ would be the
normalised difference of nearly equal vectors, i.e. rounding noise, not orthogonal to $z$. The
margin of $z'$ is then $|\alpha| \ge \sqrt{1 - 10^{-4}}\,\|z'\| \ge 0.99995\|z'\|$.

**Why two classes are excluded.** With $L = 2$ only the sign of $(w_1 - w_2)\cdot z$ matters.
If $z' = kz$ with $k < 0$, *every* head with $(Wz)_c > (Wz)_t$ has $(Wz')_t > (Wz')_c$: the
flip backdoor works for all final layers (e.g. Activate-RFF on a binary RFF model is universal
in this sense — negating the features negates every bias-free halfspace). Conversely, if
$z' = kz$ with $k > 0$, every head gives $z$ and $z'$ the *same* label, so no head can separate
them: a binary backdoor that only rescales the encoding never works, whatever the head. In the
binary case the relation between $z$ and $z'$ alone decides; a third label is what lets a head
put a non-target label at the bottom of the ranking.
"""

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

from ._validate import (
    check_finite,
    check_floating,
    check_int_range,
    check_matrix,
    is_concrete,
    runtime_check,
)


__all__ = ["invalidating_head", "invalidating_heads", "head_margins"]

# Below this ratio beta / ||z'|| the orthogonal direction is rounding noise and is not used.
_COLLINEAR_TOL = 1e-2


def _as_vector(v, name: str) -> Array:
    v = check_floating(v, name)
    if v.ndim != 1:
        raise ValueError(f"`{name}` must be a vector (d,), got shape {v.shape}.")
    if v.shape[0] < 1:
        raise ValueError(f"`{name}` must not be empty.")
    return check_finite(v, name)


def _refuse(value, bad, msg: str):
    """`value`, refused where `bad` holds: `ValueError` when `bad` is concrete (host), else
    `eqx.error_if` (a run-time error under `jit`/`vmap`); use the result."""
    if is_concrete(bad):
        if np.any(np.asarray(bad)):
            raise ValueError(msg)
        return value
    return runtime_check(value, bad, msg)


def _int_labels(value, name: str, n: int | None, num_classes: int) -> Array:
    """`value` (one label, or `(n,)` labels when `n` is given) as int32 labels in
    `0..num_classes-1`: dtype and shape checked at trace time, values on the host when
    concrete and by `eqx.error_if` when traced. Non-integral values (`0.7`), booleans and
    labels out of range are refused, not truncated."""
    what = f"`{name}` must be integer labels in 0..{num_classes - 1}"
    if isinstance(value, (str, bytes, bool, np.bool_)) or value is None:
        raise ValueError(f"{what}, got {value!r}.")
    try:
        a = jnp.asarray(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: {e}") from None
    if a.dtype == jnp.bool_ or not (
        jnp.issubdtype(a.dtype, jnp.integer) or jnp.issubdtype(a.dtype, jnp.floating)
    ):
        raise ValueError(f"`{name}` must hold integer labels, got dtype {a.dtype}.")
    if n is None and a.ndim != 0:
        raise ValueError(f"`{name}` must be one label (a scalar), got shape {a.shape}.")
    if n is not None and (a.ndim > 1 or (a.ndim == 1 and a.shape[0] != n)):
        raise ValueError(f"`{name}` must be one label or {n} labels (n,), got shape {a.shape}.")
    if is_concrete(a) and a.size:
        h = np.asarray(a)
        if h.dtype.kind == "f" and (not np.all(np.isfinite(h)) or not np.all(h == np.round(h))):
            raise ValueError(
                f"`{name}` must hold integer labels, got {np.unique(h)[:10].tolist()}."
            )
        if h.min() < 0 or h.max() >= num_classes:
            raise ValueError(f"{what}, got values in [{h.min()}, {h.max()}].")
    elif not is_concrete(a):  # NaN fails `a == floor(a)`, inf fails the range
        bad = (a < 0) | (a >= num_classes) | (a != jnp.floor(a))
        a = runtime_check(a, bad, what + ".")
    a = a.astype(jnp.int32)
    return a if n is None else jnp.broadcast_to(a, (n,))


def invalidating_head(
    z: Float[ArrayLike, " d"],
    z_prime: Float[ArrayLike, " d"],
    target: int | Int[ArrayLike, ""],
    *,
    num_classes: int,
    clean_label: int | Int[ArrayLike, ""] | None = None,
) -> Float[Array, "num_classes d"]:
    r"""A final layer $W$ that invalidates a backdoor on one input (Chardouvelis–Dao Thm 3.1).

    Constructive version of the theorem (see the module docstring for the statement and the
    argument): $\arg\max(W z') \ne$ `target` with margin $\ge 0.9999\|z'\|$ and, when
    `clean_label` is given, $\arg\max(Wz) =$ `clean_label` with margin $\|z\|$. Without
    `clean_label`, the label `(target + 1) % num_classes` plays its role (so $z$ is still
    classified, as a non-target label).

    **Arguments:**

    - `z`: encoding $\Phi(x)$ of the clean input, `(d,)`.
    - `z_prime`: encoding $\Phi(x')$ of the activated input, `(d,)`.
    - `target`: the attacker's label, in `0..num_classes-1`.
    - `num_classes`: $L \ge 3$.
    - `clean_label`: optional label that $z$ must keep, `!= target`.

    **Returns:** `W` of shape `(num_classes, d)`, dtype of `z` (logits `W @ z`), every row of
    norm $\le 2\sqrt2$.

    **Raises:** `ValueError` for `num_classes < 3`, labels out of range, `clean_label ==
    target`, shape or dtype mismatches, NaN/inf, $z' = 0$, or $z = 0$ with a `clean_label`;
    under `jit`/`vmap` (traced inputs, built in `z`'s dtype) the value checks raise by
    `eqx.error_if` when the program runs, with the same messages.
    """
    num_classes = _check_num_classes(num_classes)
    target = _int_labels(target, "target", None, num_classes)
    z = _as_vector(z, "z")
    z_prime = _as_vector(z_prime, "z_prime")
    if z.shape != z_prime.shape:
        raise ValueError(
            f"`z` and `z_prime` must have the same shape, got {z.shape}, {z_prime.shape}."
        )
    if z.dtype != z_prime.dtype:
        raise ValueError(
            f"`z` and `z_prime` must have the same dtype, got {z.dtype}, {z_prime.dtype}."
        )
    if clean_label is None:
        c = (target + 1) % num_classes
    else:
        c = _int_labels(clean_label, "clean_label", None, num_classes)
        c = _refuse(c, c == target, "`clean_label` must differ from `target`.")
        z = _refuse(z, ~jnp.any(z != 0), "`z` is zero: no bias-free head can give it a strict "
                    "`clean_label`.")  # fmt: skip
    z_prime = _refuse(z_prime, ~jnp.any(z_prime != 0),
                      "`z_prime` is zero: every bias-free head gives it all-equal logits.")  # fmt: skip
    if all(is_concrete(v) for v in (z, z_prime, c, target)):
        # Host-side (numpy, float64) evaluation of the same construction (no compilation per
        # shape); the result is cast to the dtype of `z`.
        zz, zp = np.asarray(z, np.float64), np.asarray(z_prime, np.float64)
        w = _construct(zz, zp, int(c), int(target), num_classes, xp=np)
        return jnp.asarray(w, dtype=z.dtype)
    return _construct(z, z_prime, c, target, num_classes)  # traced: jnp, in z's dtype


def _check_num_classes(num_classes) -> int:
    num_classes = check_int_range(num_classes, "num_classes")
    if num_classes < 3:
        raise ValueError(
            f"`num_classes` must be >= 3, got {num_classes}: with 2 classes no head exists in "
            "general (a negated encoding z' = -k z flips the label under every bias-free head)."
        )
    return num_classes


def invalidating_heads(
    z: Float[ArrayLike, "n d"],
    z_prime: Float[ArrayLike, "n d"],
    target: ArrayLike | Sequence[float],  # integer labels; integral floats count (checked here)
    *,
    num_classes: int,
    clean_label: int | Int[ArrayLike, "*n"] | None = None,
) -> Float[Array, "n num_classes d"]:
    """[`invalidating_head`][] for a batch of inputs at once (one head per row; vectorised).

    `target` and `clean_label` are int arrays `(n,)` (or scalars, broadcast). Same checks as
    [`invalidating_head`][], applied to every row. Works under `jit`/`vmap` (values are then
    checked by `eqx.error_if`).
    """
    num_classes = _check_num_classes(num_classes)
    z = check_floating(z, "z")
    z_prime = check_floating(z_prime, "z_prime")
    if z.ndim != 2 or z.shape != z_prime.shape:
        raise ValueError(
            f"`z` and `z_prime` must be matrices (n, d) of the same shape, got {z.shape}, "
            f"{z_prime.shape}."
        )
    if z.dtype != z_prime.dtype:
        raise ValueError(
            f"`z`, `z_prime` must share a floating dtype, got {z.dtype}, {z_prime.dtype}."
        )
    z = check_matrix(z, "z")
    z_prime = check_matrix(z_prime, "z_prime")
    n = z.shape[0]
    t = _int_labels(target, "target", n, num_classes)
    if clean_label is None:
        c = (t + 1) % num_classes
    else:
        c = _int_labels(clean_label, "clean_label", n, num_classes)
        c = _refuse(c, c == t, "`clean_label` must differ from `target` in every row.")
        z = _refuse(z, ~jnp.any(z != 0, axis=1),
                    "a row of `z` is zero: no head can give it a strict `clean_label`.")  # fmt: skip
    z_prime = _refuse(z_prime, ~jnp.any(z_prime != 0, axis=1),
                      "a row of `z_prime` is zero: every head gives it all-equal logits.")  # fmt: skip
    return _build(z, z_prime, c, t, num_classes)


@functools.partial(jax.jit, static_argnums=4)
def _build(z, zp, c, t, num_classes):
    return jax.vmap(_construct, in_axes=(0, 0, 0, 0, None))(z, zp, c, t, num_classes)


def _construct(z, zp, c, t, num_classes, xp=jnp):
    """The head of the module docstring for validated input; `xp` is `jax.numpy` (vmappable)
    or `numpy` (host-side)."""
    labels = xp.arange(num_classes)
    # v: the smallest label that is neither c nor t (exists since num_classes >= 3).
    v = xp.argmax((labels != c) & (labels != t))
    a = xp.where(labels == c, 1.0, xp.where(labels == t, 0.0, xp.where(labels == v, -1.0, -2.0)))
    b = xp.where((labels == c) | (labels == v), 1.0, xp.where(labels == t, 0.0, -2.0))
    a, b = a.astype(z.dtype), b.astype(z.dtype)
    # Normalise by the max-abs entry first, so squares neither overflow nor underflow.
    tiny = xp.finfo(z.dtype).tiny
    zs = z / xp.maximum(xp.max(xp.abs(z)), tiny)
    ps = zp / xp.maximum(xp.max(xp.abs(zp)), tiny)
    norm_z = xp.linalg.norm(zs)
    norm_p = xp.linalg.norm(ps)
    # z = 0 (no clean constraint): take u1 along z' (alpha = ||z'||, beta = 0).
    u1 = xp.where(norm_z > 0, zs / xp.where(norm_z > 0, norm_z, 1.0), ps / norm_p)
    # Gram–Schmidt twice ("twice is enough") so that u2 is orthogonal to u1 to working precision.
    r = ps - (u1 @ ps) * u1
    r = r - (u1 @ r) * u1
    beta = xp.linalg.norm(r)
    use_u2 = beta > _COLLINEAR_TOL * norm_p
    u2 = xp.where(use_u2, r / xp.where(use_u2, beta, 1.0), 0.0)
    return xp.outer(a, u1) + xp.outer(b, u2)


def head_margins(
    w: Float[ArrayLike, "c d"],
    z: Float[ArrayLike, " d"],
    z_prime: Float[ArrayLike, " d"],
    target: int | Int[ArrayLike, ""],
) -> tuple[Array, Array]:
    """The two margins of [`invalidating_head`][], computed with `w` in its own dtype.

    Returns `(clean_margin, backdoor_margin)`: `(Wz)_{argmax} - max_{j != argmax} (Wz)_j` and
    `max_{j != target} (Wz')_j - (Wz')_target`. Both positive means the head keeps a strict
    label on `z` and denies `target` to `z'`.
    """
    w = check_floating(w, "w")
    if w.ndim != 2 or w.shape[0] < 2 or w.shape[1] < 1:
        raise ValueError(f"`w` must be a head (num_classes, d), num_classes >= 2, got {w.shape}.")
    w = check_finite(w, "w")
    c, d = w.shape
    z = check_floating(z, "z")
    z_prime = check_floating(z_prime, "z_prime")
    for v, name in ((z, "z"), (z_prime, "z_prime")):
        if v.shape != (d,):
            raise ValueError(
                f"`{name}` must have shape ({d},) to match `w` {w.shape}, got {v.shape}."
            )
    z = check_finite(z, "z")
    z_prime = check_finite(z_prime, "z_prime")
    target = _int_labels(target, "target", None, c)
    lz = w @ jnp.asarray(z, w.dtype)
    lp = w @ jnp.asarray(z_prime, w.dtype)
    top = jnp.argmax(lz)
    others = jnp.where(jnp.arange(lz.shape[0]) == top, -jnp.inf, lz)
    clean = lz[top] - jnp.max(others)
    non_target = jnp.where(jnp.arange(lp.shape[0]) == target, -jnp.inf, lp)
    return clean, jnp.max(non_target) - lp[target]
