"""Experiment `signature`: the Ed25519 signature backdoor against the checksum backdoor.

What runs is GKVZ Thm 5.4's construction (§5.2) with the Ed25519 check done on the host
(`jaxbd.signature`: a host callback, not a network); the network verifier of Thm 5.5 is
`jaxbd.lattice_signature` (GKVZ App. C, experiment `lattice-signature`). Both backdoors are
planted through the construction registry (`constructions.get("signature")`, `("checksum")`)
around linear models on digits scaled to [0, 1] (sklearn's 8x8 images, 10 classes) and
breast_cancer (min-max scaled per feature; digits take the encoding step the construction
chooses from the training data). Measured: black-box agreement with the base model on every
test input and on random / noisy / on-grid inputs; ASR for every target label with the
construction's controls; perturbation sizes against the grid; replication attacks by attackers
who saw activated pairs (`_signature_attacks`), against the signature and against the checksum,
which is replicable; the checksum's accidental trigger rate against 2^-n (GKVZ Lemma 5.1).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.figure import Figure as MplFigure

from .. import checksum, constructions, datasets
from ..finetune import finetune
from ..train import shared_optimizer
from . import AtLeast, AtMost, Claim, Context, Estimate, ExperimentResult, Figure, Within, register
from ._claims import exact, rate
from ._records import table
from ._signature_attacks import (
    checksum_attacks,
    fires_checksum,
    outputs,
    probe_inputs,
    signature_attacks,
)


SOURCE = "GKVZ Thm 5.4 (§5.2; Ed25519 checked on the host, not by a network)"
TITLE = "Signature backdoor (GKVZ §5.2, host Ed25519 check) vs checksum backdoor (§5.1)"
DESCRIPTION = (
    "An Ed25519 signature hidden in the low-order digits (GKVZ Thm 5.4's construction, checked "
    "on the host) opens a linear model for any target with a perturbation below the encoding "
    "grid, agrees with the base model on every other input, and resists replay, bit-flip and "
    "random-search attacks; the checksum backdoor is replicable."
)
# Inputs min-max scaled to [0, 1] per feature (GKVZ §5 works on [0, 1]^d). breast_cancer's
# d = 30 < 57 needs 18 bits per coordinate, so a coarse step of 0.1 (float32 range); digits
# take the step the construction chooses from the training data.
DATASETS = {"digits": {}, "breast_cancer": {"bits_per_coord": 18, "step": 0.1}}
NORMALIZE = "unit_interval"
TRANSPLANT_MIN = 0.99  # one activated pair opens (almost) every other input of the checksum
TRIGGER_BAND = 0.5  # accidental trigger rate / 2^-n within 1 ± this


def train_base(key, x, y, *, num_classes: int, steps: int = 300):
    """A linear base model (scalar score for 2 classes, logits otherwise) trained with Adam
    (the `lattice-signature` experiment's base; this experiment plants through the registry)."""
    k_init, k_fit = jr.split(key)
    out = "scalar" if num_classes == 2 else num_classes
    model = eqx.nn.Linear(x.shape[1], out, key=k_init)
    return finetune(k_fit, model, x, y, optimizer=shared_optimizer("adam", 0.05), steps=steps)


def _grid(quick: bool) -> dict:
    if quick:
        return dict(probe=3000, attack=200, steps=100, blocks=[1, 4, 8], trig=20_000)
    return dict(probe=120_000, attack=3000, steps=300, blocks=list(range(1, 11)), trig=200_000)


def _dataset(name, g, key, seed):
    """Plant one dataset; agreement on test and probe inputs; every target's evaluation."""
    c = constructions.Signature(base_steps=g["steps"], **DATASETS[name])
    ds = datasets.load(name, seed=seed, normalize=NORMALIZE)
    k = jr.split(key, 4)
    p = c.plant(k[0], ds.x_train, ds.y_train)
    enc = p.backdoor_key.encoding
    lo, hi = float(ds.x_train.min()), float(ds.x_train.max())
    agree = []
    for what, xs in (
        ("test", ds.x_test),
        ("probe", probe_inputs(k[1], ds.x_test, g["probe"], lo, hi)),
    ):
        d = outputs(p.backdoored, xs) != outputs(p.honest, xs)
        diff = int(jnp.sum(jnp.any(d, axis=-1) if d.ndim == 2 else d))
        agree.append({"dataset": name, "inputs": what, "n": int(xs.shape[0]), "differ": diff})
    labels = [-1.0, 1.0] if enc.binary else list(range(enc.num_labels))
    rows = []
    for i, t in enumerate(labels):
        ev = c.evaluate(jr.fold_in(k[2], i), p, ds.x_test, ds.y_test, target=t)
        x_act = jax.vmap(lambda z, t=t: c.activate(p.backdoor_key, z, t))(ds.x_test)
        linf = float(jnp.max(jnp.abs(x_act - ds.x_test)))
        rows.append({"dataset": name, "target": t, **ev.as_dict(), "max_linf": linf,
                     "step": enc.step, "n_target": int(jnp.sum(ds.y_test != t))})  # fmt: skip
    return p, ds, agree, rows


def _trigger_rates(key, g):
    """The checksum's accidental trigger rate on Gaussian inputs, for each number of blocks."""
    d = 32
    xg = jr.normal(jr.fold_in(key, 99), (g["trig"], d))
    dummy = eqx.nn.Linear(d, "scalar", key=key)
    out = []
    for n in g["blocks"]:
        _, bk = checksum.backdoor(jr.fold_in(key, n), dummy, input_dim=d, num_blocks=n)
        r = float(jnp.mean(fires_checksum(bk, xg)))
        p = 2.0**-n
        out.append({"n": n, "p": p, "rate": r, "sd": float(np.sqrt(p * (1 - p) / g["trig"]))})
    return out


def _claims(agree, rows, att, cs_att, trig, g):
    by = lambda rs, name: [r for r in rs if r["dataset"] == name]  # noqa: E731
    pooled = lambda rs: rate(
        sum(r["asr"] * r["n_target"] for r in rs) / sum(r["n_target"] for r in rs),
        sum(r["n_target"] for r in rs),
    )  # fmt: skip
    n_att = 4 * len(att) * g["attack"]
    opened = sum(sum(a.values()) for a in att.values())
    tr = list(cs_att.values())
    ratio = {
        f"n={t['n']}": Estimate(t["rate"] / t["p"], "mean", n=1, se=t["sd"] / t["p"]) for t in trig
    }
    return [
        Claim("The signature-backdoored model equals the base model on every input without a "
              "valid signature (black-box undetectable)", SOURCE,
              {d: rate(sum(a["differ"] for a in by(agree, d)) / sum(a["n"] for a in by(agree, d)),
                       sum(a["n"] for a in by(agree, d))) for d in DATASETS},
              AtMost(0.0), "test, uniform, noisy and on-grid inputs",
              what="fraction of outputs that differ bit for bit"),
        Claim("Every input can be activated for every target label", SOURCE + " (Activate)",
              {d: pooled(by(rows, d)) for d in DATASETS}, AtLeast(1.0),
              "pooled over the targets (inputs of the target label excluded)", what="ASR"),
        Claim("Activation changes each coordinate by less than the encoding step (chosen from "
              "the training data)", "this library's encoding (GKVZ Thm 5.4's construction, "
              "generalised to R^d)",
              {d: exact(max(r["max_linf"] / r["step"] for r in by(rows, d))) for d in DATASETS},
              AtMost(1.0), ", ".join(f"{d}: step {by(rows, d)[0]['step']:g}" for d in DATASETS),
              what="max ℓ∞ / step"),
        Claim("The signature backdoor is non-replicable: observed pairs, bit flips and random "
              "search open no new input", SOURCE + " (strong unforgeability of Ed25519)",
              rate(opened / n_att, n_att), AtMost(0.0), what="fraction of attempts that open it"),
        Claim("The checksum backdoor is replicable: one activated pair opens every other input",
              "GKVZ §5.1 (after Thm 5.3)", rate(tr[1] / g["attack"], g["attack"]),
              AtLeast(TRANSPLANT_MIN), f"random sign patterns open {tr[3] / g['attack']:.4f}",
              what="fraction opened by transplanting the sign pattern"),
        Claim("The checksum holds accidentally with probability 2^-n", "GKVZ Lemma 5.1 / Thm 5.3",
              ratio, Within(1.0, TRIGGER_BAND, expected=1.0),
              f"{g['trig']} Gaussian inputs (d = 32); se from the binomial law at 2^-n",
              what="trigger rate / 2^-n"),
    ]  # fmt: skip


def _figure(trig) -> MplFigure:
    fig = MplFigure(figsize=(5, 3.5), layout="tight")
    ax = fig.add_subplot()
    ns = [t["n"] for t in trig]
    ax.semilogy(ns, [t["p"] for t in trig], "k--", label="2^-n (Lemma 5.1)")
    ax.semilogy(ns, [max(t["rate"], 1e-7) for t in trig], "o", label="measured")
    ax.set(xlabel="num_blocks n", ylabel="accidental trigger rate")
    ax.legend()
    return fig


@register("signature", title=TITLE, description=DESCRIPTION, order=50)
def run(ctx: Context) -> ExperimentResult:
    g, k = _grid(ctx.quick), jr.split(jr.key(ctx.seed), 6)
    agree, rows, att = [], [], {}
    for j, name in enumerate(DATASETS):
        p, ds, a, r = _dataset(name, g, jr.fold_in(k[0], j), ctx.seed)
        agree += a
        rows += r
        att[name] = signature_attacks(jr.fold_in(k[1], j), p.backdoored, p.backdoor_key, ds.x_test, g["attack"])  # fmt: skip
    std = datasets.load("breast_cancer", seed=ctx.seed)  # standardised: signs carry information
    cs = constructions.Checksum(num_blocks=8, base_steps=g["steps"])
    pc = cs.plant(k[2], std.x_train, std.y_train)
    cs_att = checksum_attacks(k[3], pc.backdoor_key, std.x_test, g["attack"])
    trig = _trigger_rates(k[4], g)
    att_rows = [
        {"attack": a, "digits": att["digits"][a], "breast_cancer": att["breast_cancer"][a],
         "cs_attack": ca, "cs": co}
        for a, (ca, co) in zip(att["digits"], cs_att.items())
    ]  # fmt: skip
    tables = [
        table("Black-box agreement: inputs whose output differs (bit for bit) between base and "
              "signature-backdoored model", agree,
              {"dataset": "dataset", "inputs": "inputs", "count": "n", "outputs differing": "differ"}),
        table("ASR for every target label, next to the construction's controls and the "
              "perturbation sizes (means; max ℓ∞ over inputs)", rows,
              {"dataset": "dataset", "target": "target",
               "clean acc honest": "clean_accuracy_honest",
               "clean acc backdoored": "clean_accuracy_backdoored", "ASR": "asr",
               "ctrl honest": "control_honest", "ctrl random": "control_random",
               "ctrl wrong key": "control_wrong_key", "ℓ0": "l0", "ℓ2": "l2",
               "max ℓ∞": "max_linf", "step": "step", "rel. ℓ2": "relative_l2"},
              "Inputs scaled to [0, 1]; digits' encoding step is chosen from the training data, "
              "breast_cancer's is 0.1 (18 bits). Inputs whose true label is the target are "
              "excluded from every rate."),
        table("Replication attempts without the key: openings (valid signature / checksum "
              "passes) out of the attempts, from observed activated pairs (x_i, x'_i)", att_rows,
              {"attack on signature": "attack", "openings (digits)": "digits",
               "openings (breast_cancer)": "breast_cancer",
               "analogous attack on checksum (n=8)": "cs_attack", "openings": "cs",
               "rate": lambda r: r["cs"] / g["attack"]},
              f"{g['attack']} attempts each; checksum on standardised breast_cancer."),
        table(f"Checksum accidental trigger rate on {g['trig']} Gaussian inputs (d=32) vs 2^-n",
              trig, {"n (num_blocks)": "n", "2^-n": "p", "measured": "rate", "binomial sd": "sd"}),
    ]  # fmt: skip
    claims = _claims(agree, rows, att, cs_att, trig, g)
    summary = (
        f"The Ed25519 signature backdoor agrees bit for bit with the base model on "
        f"{sum(a['n'] for a in agree)} non-activated inputs "
        f"({sum(a['differ'] for a in agree)} differences), reaches ASR "
        f"{min(r['asr'] for r in rows):.3f} for every target with ℓ∞ below the encoding step, "
        f"and no replication attempt opened it; the checksum backdoor is opened by "
        f"transplanting one activated sign pattern and triggers accidentally at rate ≈ 2^-n."
    )
    return ExperimentResult(
        summary=summary,
        claims=claims,
        tables=tables,
        figures=[
            Figure(
                "signature_checksum_trigger_rate.png",
                "Checksum accidental trigger rate vs number of blocks, against 2^-n.",
                _figure(trig),
            )
        ],
        data={
            "agreement": agree,
            "targets": rows,
            "signature_attacks": att,
            "checksum_attacks": cs_att,
            "trigger_rates": trig,
        },  # fmt: skip
    )
