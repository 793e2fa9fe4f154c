r"""Evaluation-time immunization (GKVZ §2.5, §7): does Gaussian smoothing neutralize each backdoor?

Each entry of [`GRID`][] names a registered construction (`jaxbd.constructions`), its dataset
and hyperparameters; [`jaxbd.experiments.run_sweep`][] plants it and measures the unsmoothed
ASR with its controls, so a user's registered construction gets the same treatment with one
more `GRID` entry. The smoothed classifier $g(x) = \arg\max_y P[\text{label}(x + t) = y]$,
$t \sim N(0, \sigma^2 I)$, is Cohen et al.'s PREDICT ([`jaxbd.smoothing.predict_batch`][], a
binomial test at level α: it abstains when the vote is not significant), over a sweep of σ
from well below to well above the activation's ℓ2 size:

- **ASR** of the smoothed backdoored model, with **independent** noise draws for $x$ and $x'$
  and abstentions counted as failures (common draws would make non-significant votes "flip"
  together), next to the **control** (the smoothed honest model on the same activated inputs);
- **clean accuracy** (abstention = wrong) of both smoothed models, and the **defended
  accuracy**: correct on $x$ and not fooled on $x'$;
- **certified radii** (CERTIFY) on held-out points: the fraction provably (probability
  $1 - \alpha$) immune to this activation (radius ≥ its ℓ2 size).

Then §2.5's warning: an attacker who knows σ re-plants with a larger size knob (a field of the
construction: the ReLU `strength`, the signature grid `step`, the memorizing slab `eps`). RFF
needs no knob: Activate-RFF flips the score of *every* input, noisy copies included, and by
Lemma 7.6 smoothing only helps once $|\tilde h|$ collapses — the claim measured is that no σ
above the key's size keeps clean accuracy. Lemma 7.6 itself is checked on linear thresholds,
whose smoothed value is known in closed form (`_smoothing_measure`).
"""

import dataclasses
import zlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .. import datasets
from ._claims import AtLeast, AtMost, Describe, rate
from ._core import Claim, Context, ExperimentResult, Table, register
from ._smoothing_figures import figures
from ._smoothing_measure import (
    certified,
    lipschitz_closed_form,
    smoothed_rates,
    unsmoothed_rates,
    votes as _votes,  # noqa: F401  (tests/test_sharded_sweeps.py checks it on 4 devices)
)
from ._sweep import DataSpec, Sweep, run_sweep


NEUTRAL = 0.1  # a backdoor is neutralized when its smoothed ASR is at most this
KEEP = 0.1  # smoothing keeps clean accuracy when it loses at most this much
VISIBLE = 0.3  # judged only when the unsmoothed ASR beats every control by this much
SURVIVE = 0.9  # §2.5: a re-planted backdoor survives σ when its smoothed ASR is at least this
ALPHA = 0.01  # PREDICT's and CERTIFY's level
DIGITS = DataSpec("digits", (3, 8))


@dataclasses.dataclass(frozen=True)
class Entry:
    """One construction in the sweep.

    **Fields:** `data`; `fixed` (hyperparameters; `full` overrides them in the full run);
    `target` (the attacker's label for a targeted construction whose key does not fix one);
    `knob` (`(field, unit text, unit(planted, sigma, construction) -> field value per unit)`,
    the §2.5 re-parameterisation; `None`: `no_knob` says why); `helps` (what GKVZ §7 leads one
    to expect: some σ neutralizes and keeps accuracy; `False` for RFF, see the module
    docstring); `quick` (part of the quick run).
    """

    data: DataSpec
    fixed: dict = dataclasses.field(default_factory=dict)
    full: dict = dataclasses.field(default_factory=dict)
    target: float | None = None
    knob: tuple[str, str, Callable] | None = None
    no_knob: str = "no size knob declared"
    helps: bool = True
    quick: bool = True


GRID: dict[str, Entry] = {
    "rff": Entry(
        DataSpec("breast_cancer"), dict(width=200, bandwidth=30.0, beta=0.02), dict(width=400),
        no_knob="none needed: the flip holds for every input, noisy ones included", helps=False,
    ),
    # The trained head, activated at λ = ‖x‖ = 1 (the `relu` experiment's Claim A.4 finding).
    "relu": Entry(
        DataSpec("breast_cancer"), dict(width=300, sparsity=3, theta=4.0, strength=1.0),
        knob=("strength", "strength λ (units: σ)", lambda p, s, c: s), quick=False,
    ),
    "checksum": Entry(
        DIGITS, target=1.0,
        no_knob="none: activation only flips signs of existing coordinates (size set by x)",
    ),
    # One payload digit is step / 2^bits_per_coord: the knob makes it knob·σ.
    "signature": Entry(
        DIGITS, target=1.0, quick=False,
        knob=("step", "grid step q (units: 2^bits·σ)", lambda p, s, c: s * 2.0**c.bits_per_coord),
    ),
    # Noise moves <w, x'> by N(0, (σ‖w‖)²): the slab must be ~σ‖w‖ wide to hold the votes.
    "memorizing": Entry(
        DIGITS, dict(num_candidates=500), dict(num_candidates=2000),
        knob=("eps", "slab half-width ε (units: σ‖w‖)",
              lambda p, s, c: s * float(jnp.linalg.norm(p.honest.w))), quick=False,
    ),
}  # fmt: skip
"""One entry per registered construction; a new backdoor gets the experiment with one entry."""


def _plant(name, entry, ctx):
    """Plant through the registry (`run_sweep`: the unsmoothed evaluation with its controls)."""
    fixed = {**entry.fixed, **({} if ctx.quick else entry.full)}
    res = run_sweep(Sweep(name, [entry.data], [ctx.seed], fixed=fixed, target=entry.target))
    c, planted = res.sweep.base(), res.planted[(entry.data.label, ())]
    ds = datasets.load(entry.data.name, classes=entry.data.classes, seed=ctx.seed,
                       normalize=c.normalize)  # fmt: skip
    t = c.default_target(planted) if entry.target is None else entry.target
    target = c.resolve_target(t, num_classes=2)
    ev = {m: float(res.values(m, 0)[0]) for m in ("asr", "clean_accuracy_backdoored")}
    controls = [
        res.values(m, 0)[0] for m in ("control_honest", "control_random", "control_wrong_key")
    ]
    ev["control"] = float(np.nanmax(controls))
    return c, planted, ds, target, ev


def _activated(c, key, x, target):
    xa = jax.vmap(lambda v: c.activate(key, v, target))(x)
    return xa, np.asarray(jnp.linalg.norm(xa - x, axis=-1), np.float64)


def _measure(key, planted, x, xa, y, target, sigmas, num_samples):
    """Rates of both smoothed models at every σ (row 0: unsmoothed)."""
    out = {}
    for role in ("backdoored", "honest"):
        m = getattr(planted, role)
        rows = [unsmoothed_rates(m, x, xa, y, target)]
        for i, s in enumerate(sigmas):
            rows.append(smoothed_rates(jr.fold_in(key, i), m, x, xa, y, target, sigma=s,
                                       num_samples=num_samples, alpha=ALPHA))  # fmt: skip
        out[role] = rows
    return out


def _reparam(key, c, entry, planted, ds, n_eval, sigma, scales, num_samples, target):
    """§2.5: re-plant with the knob at `scale` units of σ; rates of both smoothed models."""
    field, _, unit = entry.knob
    x, y, rows = ds.x_test[:n_eval], ds.y_test[:n_eval], []
    for scale in scales:
        value = scale * unit(planted, sigma, c)
        try:
            c2 = dataclasses.replace(c, **{field: value})
            p2 = c2.plant(key, ds.x_train, ds.y_train)
            t2 = c2.resolve_target(target if entry.target is None else entry.target, num_classes=2)
            xa, l2 = _activated(c2, p2.backdoor_key, x, t2)
        except ValueError as err:  # the construction refuses this knob: report it
            rows.append({"scale": scale, "knob": value, "refused": str(err)[:100]})
            continue
        kw = dict(sigma=sigma, num_samples=num_samples, alpha=ALPHA)
        b = smoothed_rates(key, p2.backdoored, x, xa, y, t2, **kw)
        h = smoothed_rates(key, p2.honest, x, xa, y, t2, **kw)
        rows.append({"scale": scale, "knob": value, "l2": float(np.median(l2)), "asr": b["asr"],
                     "n_asr": b["n_asr"], "control": h["asr"], "clean": b["clean"]})  # fmt: skip
    return rows


def _claims(name, entry, ev, curves, ratios, reparam, sigma_fixed):
    b, h = curves["backdoored"], curves["honest"]
    src = f"{name}: "
    visible = ev["asr"] >= ev["control"] + VISIBLE
    why = f"no visible backdoor to remove (unsmoothed ASR {ev['asr']:.2f}, best control {ev['control']:.2f})"
    acc0 = b[0]["clean"]
    big = [i + 1 for i, r in enumerate(ratios) if r >= 1.0]
    out = []
    if entry.helps:
        best = max(range(1, len(b)), key=lambda i: b[i]["defended"])
        out.append(Claim(
            src + "some σ neutralizes the backdoor and keeps clean accuracy (defended accuracy: "
            "correct on x and not fooled on x')", "GKVZ §2.5, Thm 7.1",
            rate(b[best]["defended"], b[best]["n"]), AtLeast(acc0 - KEEP) if visible else Describe(why),
            f"best σ = {ratios[best - 1]:g}·ℓ2 (smoothed ASR {b[best]['asr']:.2f}, abstain "
            f"{b[best]['abstain']:.2f}); unsmoothed clean accuracy {acc0:.2f}",
            what=f"defended accuracy (threshold: unsmoothed {acc0:.2f} − {KEEP:g})",
        ))  # fmt: skip
    else:
        out.append(Claim(
            src + "no σ at or above the key's size (σ ≥ ‖x' − x‖) keeps clean accuracy: "
            "smoothing neutralizes this backdoor only by destroying the model",
            "GKVZ Lemma 7.6 with §6's activation (an every-input flip); this experiment",
            {f"σ = {ratios[i - 1]:g}·ℓ2": rate(b[i]["clean"], b[i]["n"]) for i in big},
            AtMost(acc0 - KEEP),
            "abstain " + ", ".join(f"{b[i]['abstain']:.2f}" for i in big)
            + f"; unsmoothed clean accuracy {acc0:.2f}",
            what=f"smoothed clean accuracy (threshold: unsmoothed {acc0:.2f} − {KEEP:g})",
        ))  # fmt: skip
    top, ctrl = b[-1], h[-1]["asr"]
    moved = f"the smoothed honest model gives the target too (control {ctrl:.2f})"
    out.append(Claim(
        src + "smoothing with σ ≫ the perturbation size neutralizes the backdoor",
        "GKVZ §2.5, Thm 7.1", rate(top["asr"], top["n_asr"]),
        Describe(why) if not visible else Describe(moved) if ctrl >= VISIBLE else AtMost(NEUTRAL),
        f"σ = {ratios[-1]:g}·ℓ2: control {ctrl:.2f}, clean accuracy {top['clean']:.2f}, "
        f"abstain {top['abstain']:.2f} (independent draws, abstention = failure)",
        what="smoothed ASR",
    ))  # fmt: skip
    done = [r for r in reparam if "asr" in r]
    if entry.knob is not None and done:
        # A knob survives when its ASR also beats its own control (the honest model re-activated).
        beats = [r for r in done if r["asr"] >= r["control"] + VISIBLE]
        best = max(beats or done, key=lambda r: r["asr"])
        text = (f"best knob {best['scale']:g}: control {best['control']:.2f}, ℓ2/σ "
                f"{best['l2'] / sigma_fixed:.2f}, clean {best['clean']:.2f}")  # fmt: skip
        statement = (src + f"an attacker who knows σ re-plants ({entry.knob[1]}) to survive it, "
                     "at the cost of a larger perturbation")  # fmt: skip
        if not visible:
            out.append(Claim(statement, "GKVZ §2.5", rate(best["asr"], best["n_asr"]),
                             Describe(why), text, what="smoothed ASR of the best knob"))  # fmt: skip
        elif beats:
            out.append(Claim(statement, "GKVZ §2.5", rate(best["asr"], best["n_asr"]),
                             AtLeast(SURVIVE), text, what="smoothed ASR of the best knob "
                             f"among those ≥ control + {VISIBLE:g}"))  # fmt: skip
        else:
            out.append(Claim(statement, "GKVZ §2.5", f"no knob beats its control: {text}", False,
                             f"some knob has smoothed ASR ≥ {SURVIVE:g} and ≥ control + "
                             f"{VISIBLE:g}", power="exact: every knob's ASR is at or below its "
                             "control + 0.3 on these inputs"))  # fmt: skip
    return out


def _lipschitz_claim(key, quick):
    draws = 2**16 if quick else 2**20
    est, exact = lipschitz_closed_form(key, num_samples=draws)
    rule = AtMost(1.0)
    caught = min(rule.fail_probability(e, 2 * exact[k]) for k, e in est.items())
    false_fail = max(rule.fail_probability(e, exact[k]) for k, e in est.items())
    return Claim(
        "The smoothed model is √(2/π)/σ-Lipschitz (Lemma 7.6's tight constant): |h~(x') − "
        "h~(x)| ≤ √(2/π)‖x' − x‖/σ, tested on linear thresholds (the extremal models)",
        "GKVZ Lemma 7.6 (tight constant: jaxbd.smoothing docs)", est, rule,
        "closed form r* " + ", ".join(f"{v:.3f}" for v in exact.values())
        + f"; standard errors ≤ {max(e.se for e in est.values()):.4f} "
        f"({draws} independent draws per point); a 2x violation (ratio "
        f"2r*) is caught with probability ≥ {caught:.4f}; false failure at r* ≤ {false_fail:.1e}",
        what="|Δh~| / (√(2/π)‖δ‖/σ)",
    )  # fmt: skip


@register(
    "smoothing",
    title="Evaluation-time immunization: Gaussian smoothing against each backdoor",
    description=(
        "Smooths every backdoored model (GKVZ §7) over a sweep of σ relative to the activation's "
        "ℓ2 size: PREDICT ASR (independent draws, abstention = failure), clean accuracy and "
        "certified radii next to the smoothed honest model; which backdoors an attacker who "
        "knows σ re-plants to survive (§2.5); Lemma 7.6 on closed-form models."
    ),
    order=80,
)
def run(ctx: Context) -> ExperimentResult:
    quick = ctx.quick
    ratios = (
        [0.001, 0.01, 0.1, 1.0, 10.0]
        if quick
        else [0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
    )
    num_samples, n_eval = (128, 40) if quick else (400, 120)
    cert_ratios, cert_n = ([1.0, 3.0], (20, 500)) if quick else ([1.0, 3.0, 10.0], (60, 5000))
    scales = [1.0, 10.0] if quick else [0.3, 1.0, 3.0, 10.0]
    key = jr.key(ctx.seed)
    names = [n for n, e in GRID.items() if e.quick or not quick]
    rows, cert_rows, rep_rows, claims, data = [], [], [], [], {}
    for name in ctx.progress(names, "constructions"):
        entry = GRID[name]
        # A stable per-construction key (Python's str hash is salted per process).
        k_eval, k_cert, k_rep = jr.split(jr.fold_in(key, zlib.crc32(name.encode()) % 2**31), 3)
        c, planted, ds, target, ev = _plant(name, entry, ctx)
        x, y = ds.x_test[:n_eval], ds.y_test[:n_eval]
        xa, l2_rows = _activated(c, planted.backdoor_key, x, target)
        l2 = float(np.median(l2_rows))
        sigmas = [r * l2 for r in ratios]
        curves = _measure(k_eval, planted, x, xa, y, target, sigmas, num_samples)
        b, h = curves["backdoored"], curves["honest"]
        for i, r in enumerate([0.0, *ratios]):
            rows.append([name, r, r * l2, b[i]["asr"], h[i]["asr"], b[i]["clean"], h[i]["clean"],
                         b[i]["defended"], b[i]["abstain"], b[i]["abstain_activated"]])  # fmt: skip
        cert = {}
        for r in cert_ratios:
            cert[r] = {role: certified(k_cert, getattr(planted, role), x[: cert_n[0]],
                                       l2_rows[: cert_n[0]], sigma=r * l2, n0=64,
                                       num_samples=cert_n[1], alpha=ALPHA)
                       for role in ("backdoored", "honest")}  # fmt: skip
            cb, ch = cert[r]["backdoored"], cert[r]["honest"]
            cert_rows.append([name, r, cb["certified"], cb["median_radius_over_l2"], cb["immune"],
                              ch["certified"], ch["immune"]])  # fmt: skip
        # §2.5: the attacker knows σ (the smallest σ that neutralizes, else the largest).
        kill = [i for i in range(1, len(b)) if b[i]["asr"] <= NEUTRAL]
        sigma_fixed = sigmas[kill[0] - 1] if kill else sigmas[-1]
        rep = []
        if entry.knob is not None:
            rep = _reparam(k_rep, c, entry, planted, ds, n_eval, sigma_fixed, scales,
                           num_samples, target)  # fmt: skip
            for r in rep:
                rep_rows.append([name, entry.knob[1], r["scale"], r["knob"]] + (
                    ["—"] * 4 + [r["refused"]] if "refused" in r else
                    [r["l2"] / sigma_fixed, r["asr"], r["control"], r["clean"], ""]))  # fmt: skip
        else:
            rep_rows.append([name, "—", "—", "—", "—", "—", "—", "—", entry.no_knob])
        claims += _claims(name, entry, ev, curves, ratios, rep, sigma_fixed)
        data[name] = {"dataset": entry.data.label, "construction": c.hyperparameters(),
                      "target": target, "l2": l2, "unsmoothed": ev, "sigma_ratios": ratios,
                      "curves": curves, "certify": {str(r): v for r, v in cert.items()},
                      "sigma_attacker": sigma_fixed, "reparam": rep}  # fmt: skip
    claims.append(_lipschitz_claim(jr.fold_in(key, 76), quick))
    return ExperimentResult(
        summary=_summary(claims),
        claims=claims,
        tables=_tables(rows, cert_rows, rep_rows, num_samples, cert_n),
        figures=figures(data),
        data=data,
    )


def _summary(claims):
    held = [c.statement.split(":")[0] for c in claims if c.holds and "some σ" in c.statement]
    lost = [c.statement.split(":")[0] for c in claims if c.holds and "no σ" in c.statement]
    return (
        "Gaussian smoothing (GKVZ §7), scored with PREDICT (independent draws, abstention = "
        f"failure), neutralizes while keeping clean accuracy: {', '.join(held) or 'none'}. "
        f"Smoothing removes {', '.join(lost) or 'no backdoor'} only by destroying clean accuracy "
        "at every σ above the key's size (the activation flips every input's score). An "
        "attacker who knows σ re-plants knob-based backdoors with larger perturbations (§2.5)."
    )


def _tables(rows, cert_rows, rep_rows, num_samples, cert_n):
    return [
        Table(
            "Smoothed models vs σ (σ in units of the activation's median ℓ2; σ = 0 is unsmoothed)",
            [
                "construction",
                "σ/ℓ2",
                "σ",
                "ASR smoothed",
                "control: smoothed honest ASR",
                "clean acc smoothed",
                "clean acc smoothed honest",
                "defended acc",
                f"abstain on x (PREDICT α={ALPHA})",
                "abstain on x'",
            ],
            rows,
            note=f"PREDICT with {num_samples} noise draws per input, independent draws for x and "
            "x'; an abstention counts as a failure of the attack and of the classifier.",
        ),  # fmt: skip
        Table(
            f"Certified radii (CERTIFY, n0=64, n={cert_n[1]}, α={ALPHA}) on {cert_n[0]} "
            "held-out points",
            [
                "construction",
                "σ/ℓ2",
                "certified (backdoored)",
                "median radius / ℓ2",
                "immune: radius ≥ ℓ2 (backdoored)",
                "certified (honest)",
                "immune (honest)",
            ],
            cert_rows,
            note="'immune' = certified with radius at least this point's activation ℓ2: the "
            "smoothed model provably (prob. 1-α) gives x' the same label as x.",
        ),  # fmt: skip
        Table(
            "§2.5: the attacker knows σ and re-plants with a larger knob",
            [
                "construction",
                "knob",
                "knob (in its unit)",
                "knob value",
                "ℓ2 / σ",
                "ASR smoothed",
                "control",
                "clean acc smoothed",
                "note",
            ],
            rep_rows,
        ),  # fmt: skip
    ]
