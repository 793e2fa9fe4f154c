"""The lattice-signature backdoor around a trained linear model (GKVZ Thm 5.4 with App. C).

The verifier is a pure network of perceptron and sine layers (`jaxbd.lattice_signature`); the
key holds MP12's gadget trapdoor. Inputs live in $[0, 1]^d$ (the CLI scales bundled data with
`normalize = "unit_interval"`).
"""

import logging
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr

from .. import lattice_signature as ls
from .._validate import check_int_range
from ..linear import train_linear
from ._abstract import AbstractConstruction, Planted
from ._registry import register


__all__ = ["LatticeSignature", "choose_params"]

_PARAMS = ("auto", *ls.PARAMETER_SETS)
# A str for pyright; at run time `__check_init__` checks `params` (a ValueError naming it),
# not the import hook.
if TYPE_CHECKING:
    _ParamsName = str
else:
    _ParamsName = object
_LOG = logging.getLogger("jaxbd")


def choose_params(params: str, input_dim: int, num_labels: int, coarse_bits: int = 7):
    """The [`jaxbd.lattice_signature.LatticeParams`][] that `params` names for data of
    `input_dim` features and `num_labels` labels: the preset itself, or for `"auto"` the largest
    preset whose signature fits (most signature bits). `ValueError` when none fits."""

    def need(p):
        return ls.min_input_dim(p, max(num_labels, 2), coarse_bits=coarse_bits)

    if params != "auto":
        return ls.get_params(params)
    fits = [p for p in ls.PARAMETER_SETS.values() if need(p) <= input_dim]
    if not fits:
        raise ValueError(
            f"`params`: no parameter set fits {input_dim} features (the smallest, 'toy', needs "
            f"{need(ls.get_params('toy'))} at `coarse_bits` = {coarse_bits})."
        )
    return max(fits, key=lambda p: p.signature_bits)


def is_secure(p) -> bool:
    """At least 100-bit classical core-SVP (`jaxbd.lattice_signature.security_estimate`)."""
    return ls.security_estimate(p).classical_bits >= 100


def _compact(bk):
    r"""The key with its public hash matrix (entries in $[0, 2^{\kappa_h})$) in the narrowest
    unsigned dtype (uint8 / uint16 / uint32): a 2-4x smaller key file; activation reads it as
    integers whatever the dtype. (Side effect, stated: the public matrix is no longer byte-equal
    to the model's int32 copy, which a byte-search for key material in model files would flag
    although it is public.)"""
    kh = bk.params.hash_log_q
    dtype = jnp.uint8 if kh <= 8 else jnp.uint16 if kh <= 16 else jnp.uint32
    return eqx.tree_at(
        lambda k: k.public_key.hash_matrix, bk, bk.public_key.hash_matrix.astype(dtype)
    )


@register
class LatticeSignature(AbstractConstruction):
    r"""An MP12/CHKP lattice signature verified by a perceptron/sine network + MUX around a
    linear model: non-replicable, a pure JAX function (no host callback); the model holds only
    the public key, the key MP12's trapdoor (targeted; GKVZ Thm 5.4, App. C).

    Inputs must lie in $[0, 1]^d$; `activate` clips an input outside first (that part of the move
    is not slight). Every parameter set that fits $d \le 784$ is INSECURE (forged by LLL); the
    ~103-bit default needs $d \ge 11\,101$. Planting with an insecure set logs a warning
    (logger `jaxbd`).

    **Fields:** `params` (parameter set: auto = the largest that fits the data; toy, d256, d784
    are INSECURE; default needs 11101+ features), `coarse_bits` (activation moves each coordinate
    by less than 2^-coarse_bits; 23 - coarse_bits payload bits per coordinate), `base_steps`
    (training steps of the linear base model).
    """

    name: ClassVar[str] = "lattice-signature"
    title: ClassVar[str] = (
        "lattice-signature (MP12/CHKP) backdoor verified by a perceptron/sine network; targeted"
    )
    source: ClassVar[str] = "GKVZ §5.2 (Thm 5.4), App. C"
    kind: ClassVar[str] = "targeted"
    tasks: ClassVar[tuple[str, ...]] = ("binary", "multiclass")
    normalize: ClassVar[str] = "unit_interval"

    params: _ParamsName = eqx.field(static=True, default="auto")
    coarse_bits: int = eqx.field(static=True, default=7)
    base_steps: int = eqx.field(static=True, default=300)

    def __check_init__(self):
        if not isinstance(self.params, str) or self.params not in _PARAMS:
            raise ValueError(f"`params` must be one of {_PARAMS}, got {self.params!r}.")
        check_int_range(self.coarse_bits, "coarse_bits", low=1, high=22)
        check_int_range(self.base_steps, "base_steps", low=0)

    def parameter_set(self, input_dim: int, num_labels: int):
        """The parameter set a plant on `input_dim` features and `num_labels` labels uses."""
        p = choose_params(self.params, input_dim, num_labels, self.coarse_bits)
        need = ls.min_input_dim(p, max(num_labels, 2), coarse_bits=self.coarse_bits)
        if need > input_dim:
            raise ValueError(
                f"`params`: the set {p.name!r} needs >= {need} features at `coarse_bits` = "
                f"{self.coarse_bits}, the data has {input_dim}; use params='auto' (insecure "
                "below 11101 features) or fewer `coarse_bits`."
            )
        return p

    def check_data(self, x, y):
        task, c = self.check_task(y, x)
        self.parameter_set(x.shape[1], c)
        return task, c

    def _wrap(self, key, honest, d: int, c: int):
        p = self.parameter_set(d, c)
        bd, bk = ls.backdoor(key, honest, input_dim=d, params=p, coarse_bits=self.coarse_bits)
        return bd, _compact(bk)

    def plant(self, key, x, y) -> Planted:
        _, c = self.check_data(x, y)
        p = self.parameter_set(x.shape[1], c)
        if not is_secure(p):
            _LOG.warning(
                "lattice-signature: parameter set %r is INSECURE (%s); a secure set needs >= "
                "%d features.", p.name, ls.security_estimate(p).summary(),
                ls.min_input_dim("default", max(c, 2), coarse_bits=self.coarse_bits),
            )  # fmt: skip
        k1, k2 = jr.split(key)
        honest = train_linear(k1, x, y, steps=self.base_steps)
        bd, bkey = self._wrap(k2, honest, x.shape[1], c)
        return Planted(honest, bd, bkey)

    def activate(self, backdoor_key, x, target=None):
        return ls.activate(backdoor_key, jnp.clip(x, 0.0, 1.0), target)

    def wrong_key(self, key, x, y, planted: Planted):
        _, c = self.check_task(y, x)
        return self._wrap(key, planted.honest, x.shape[1], c)[1]  # a fresh trapdoor
