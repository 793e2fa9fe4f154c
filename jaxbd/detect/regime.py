r"""Which distinguishers detect a construction at given parameters (rules + measured frontier).

The rules come from the theory each distinguisher rests on, with constants set from the
measurements of the `detection` experiment (seeds 0.., 5 % false-positive rate):

- ReLU / sparse PCA (GKVZ App. A): the spectral test detects above the BBP line
  $\theta > \sqrt{d/m}$ (Baik–Ben Arous–Péché); diagonal thresholding when the per-coordinate
  variance excess $\theta/k$ beats the Bonferroni $\chi^2_m$ maximum,
  $\theta/k > \sqrt{2/m}\,(\sqrt{2\ln d} + 2)$; covariance thresholding when
  $\theta\sqrt m / k > \tau = 2$ (the spike's entries $\sqrt m\,\theta/k$ survive the
  soft threshold; measured: power 0.6 at $\theta\sqrt m/k = 2.26$). Lemma A.2 also needs $k \le \sqrt d$
  ($\alpha \le 1/2$) and $\theta \le 1$ ($\theta = O(1)$).
- RFF / pancakes (GKVZ §6, Lemma 6.2): $\gamma < 2\sqrt k$ is below the hardness condition; a
  `secret_dim` of 1 is a comb on one coordinate (per-coordinate KS test; measured power >= 0.6 at $m = 256$) when $\beta \le 0.02$;
  supports up to 3 are enumerable (`pancakes.pancakes`) when
  $2m e^{-4\pi^2\beta^2} \gtrsim 2\ln(\#\text{candidates}) + 20$; the LLL attack
  (`lattice.lattice_attack`, in the full dimension $d$, dense secrets) recovered the secret in
  our runs (6 secrets per cell) for $\beta \le 10^{-3}$ at $d \le 12$ (4/6 at 12, 1/6 at 16)
  and $\beta \le 10^{-4}$ at every $d \le 24$, never at $\beta = 10^{-2}$; we use
  $\beta \le 10^{-3 - \max(0, d - 12)/12}$ (interpolated; extrapolated beyond $d = 24$;
  float64 weights — float32 weights add a $\sim 10^{-7}$ relative rounding floor).
- RFF / sparse lattice (`sparse_lattice.sparse_lattice_attack`): a $k$-sparse secret is found
  by LLL on the right $k$ columns when $\beta \le$ `SPARSE_LATTICE_BETA` $= 0.01$ (every secret
  recovered in our runs at $k \le 8$ with $\max(12, 4k)$ rows; partial at $\beta = 0.03$,
  none at $0.05$ — the detection experiment's frontier table) and the width leaves 16
  held-out rows; it is *affordable* when trying all $\binom dk$ supports costs at most
  `SEARCH_BUDGET_S` = one CPU-hour, at `support_cost_s(k)` $= 1.6\,\mathrm{ms} \times
  (n/12)^{2.6}$ CPU seconds per support ($n = \max(12, 4k)$ lattice rows, 3 scales; fitted to
  the process CPU time of the attack on wrong supports on one core of the development machine:
  1.5–1.7 ms at $n = 12$, 2.8 ms at $n = 16$, 9.4 ms at $n = 24$).
"""

import math

import numpy as np

from .pancakes import default_num_directions
from .sparse_lattice import default_rows


__all__ = [
    "regime_warnings",
    "DetectableRegimeWarning",
    "warn_if_detectable",
    "support_cost_s",
    "SEARCH_BUDGET_S",
    "SPARSE_LATTICE_BETA",
]

SEARCH_BUDGET_S = 3600.0  # an auditor's affordable exhaustive search: one CPU-hour
SPARSE_LATTICE_BETA = 0.01  # largest noise at which every sparse secret was recovered


def support_cost_s(support_size: int) -> float:
    """Measured CPU seconds of the sparse lattice attack per support (one core, fpylll LLL)."""
    return 1.6e-3 * (default_rows(support_size) / 12.0) ** 2.6


class DetectableRegimeWarning(UserWarning):
    """The parameters of a backdoor fall in a regime that a `jaxbd.detect` distinguisher detects."""


def _relu(dim, width, sparsity, theta, **_):
    out = []
    bbp = math.sqrt(dim / width)
    if theta > bbp:
        out.append(
            f"spectral: theta={theta:g} > sqrt(d/m)={bbp:.3g} (BBP): the top eigenvalue of the "
            "first layer separates from the Marchenko–Pastur edge (Tracy–Widom test detects it)."
        )
    if theta / sparsity > math.sqrt(2.0 / width) * (math.sqrt(2.0 * math.log(max(dim, 2))) + 2.0):
        out.append(
            f"diagonal_thresholding: theta/k={theta / sparsity:.3g} exceeds the chi2 maximum over "
            f"{dim} coordinates at m={width} (Johnstone–Lu); the support is recovered."
        )
    if theta * math.sqrt(width) / sparsity > 2.0:
        out.append(
            "covariance_thresholding: theta*sqrt(m)/k > tau = 2 (Deshpande–Montanari) — the "
            "spike's off-diagonal entries survive the soft threshold."
        )
    if sparsity > math.sqrt(dim) or theta > 1.0:
        out.append(
            "outside Lemma A.2's hardness regime (needs sparsity <= sqrt(d) and theta <= 1)."
        )
    return out


def _rff(dim, width, secret_dim, beta, gamma=None, **_):
    out = []
    gamma = 2.0 * math.sqrt(secret_dim) if gamma is None else float(gamma)
    if gamma < 2.0 * math.sqrt(secret_dim) - 1e-12:
        out.append(f"gamma={gamma:g} < 2 sqrt(secret_dim): below CLWE hardness (BRST21).")
    amp = math.exp(-4.0 * math.pi**2 * beta**2)
    if secret_dim == 1 and beta <= 0.02:
        out.append(
            "gaussianity: a 1-sparse secret puts a comb with spacing 1/gamma on one coordinate; "
            "the per-coordinate KS test detects it."
        )
    if secret_dim <= 3:
        n_cand = math.comb(dim, secret_dim) * default_num_directions(secret_dim, gamma)
        if n_cand <= 4_000_000 and 2.0 * width * amp > 2.0 * math.log(n_cand) + 20.0:
            out.append(
                f"pancakes: the {secret_dim}-sparse secret is found by enumerating "
                f"{n_cand} candidate directions (periodogram |phi| ~ exp(-2 pi^2 beta^2))."
            )
    if beta <= 10.0 ** (-3.0 - max(0.0, dim - 12.0) / 12.0):
        out.append(
            f"lattice: beta={beta:g} is small enough for the LLL attack in dimension {dim} "
            "(Song–Zadik–Bruna 2021): the secret is recovered exactly."
        )
    n_sup = math.comb(dim, secret_dim)
    cost = n_sup * support_cost_s(secret_dim)
    if (
        beta <= SPARSE_LATTICE_BETA
        and cost <= SEARCH_BUDGET_S
        and width >= default_rows(secret_dim) + 16
    ):
        out.append(
            f"sparse_lattice: trying all C({dim}, {secret_dim}) = {n_sup} supports with LLL "
            f"costs ~{cost:.3g} CPU-s (budget {SEARCH_BUDGET_S:g} s) and beta={beta:g} <= "
            f"{SPARSE_LATTICE_BETA:g}: the secret is recovered on the right support."
        )
    return out


def regime_warnings(construction: str, **params) -> list[str]:
    """Distinguishers in `jaxbd.detect` that detect `construction` at `params`.

    **Arguments:**

    - `construction`: `"relu"` (params `dim`, `width`, `sparsity`, `theta`) or `"rff"` (params
      `dim`, `width`, `secret_dim`, `beta`, optional `gamma`).

    **Returns:** one sentence per distinguisher that detects this regime (empty = none of ours
    does, at the thresholds above).
    """
    need = {
        "relu": ("dim", "width", "sparsity", "theta"),
        "rff": ("dim", "width", "secret_dim", "beta"),
    }
    optional = {"relu": (), "rff": ("gamma",)}
    if not isinstance(construction, str) or construction not in need:
        raise ValueError(f"`construction` must be 'relu' or 'rff', got {construction!r}.")
    missing = [p for p in need[construction] if p not in params]
    if missing:
        raise ValueError(f"regime_warnings({construction!r}) needs {missing}.")
    unknown = sorted(set(params) - set(need[construction]) - set(optional[construction]))
    if unknown:
        names = ", ".join(f"`{u}`" for u in unknown)
        raise ValueError(
            f"{names}: not a parameter of regime_warnings({construction!r}) (expected "
            f"{list(need[construction] + optional[construction])})."
        )
    counts = {"dim", "width", "sparsity", "secret_dim"}
    checked = {}
    for p, v in params.items():
        if p == "gamma" and v is None:
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(
            v, (int, float, np.integer, np.floating)
        ):
            raise ValueError(f"`{p}` must be a finite number >= 0, got {v!r}.")
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"`{p}` must be a finite number >= 0, got {v!r}.")
        if p in counts:
            if v < 1 or v != round(v):
                raise ValueError(f"`{p}` must be a positive integer, got {v!r}.")
            v = int(v)
        elif p == "gamma" and v <= 0:
            raise ValueError(f"`gamma` must be a finite number > 0, got {v!r}.")
        else:
            v = float(v) if not isinstance(v, int) else v
        checked[p] = v
    params = checked
    if construction == "relu":
        return _relu(**params)
    return _rff(**params)


def warn_if_detectable(construction: str, *, stacklevel: int = 3, **params) -> list[str]:
    """Warn ([`DetectableRegimeWarning`][]) when [`regime_warnings`][] names a distinguisher.

    Called by `jaxbd.rff.backdoor` and `jaxbd.relu.backdoor` with concrete parameters (traced
    parameters are skipped). Silence with
    `warnings.simplefilter("ignore", DetectableRegimeWarning)`. Returns the messages.
    """
    import warnings

    try:
        params = {k: float(v) if not isinstance(v, int) else v for k, v in params.items()}
    except TypeError:  # a traced parameter: nothing to decide at trace time
        return []
    found = regime_warnings(construction, **params)
    if found:
        warnings.warn(
            f"{construction} backdoor parameters {params} are detectable: " + " | ".join(found),
            DetectableRegimeWarning,
            stacklevel=stacklevel,
        )
    return found
