"""Experiment `signature`: the Ed25519 signature backdoor (GKVZ §5.2) against the checksum (§5.1).

Base models (linear softmax on digits scaled to [0,1]; linear logistic on breast_cancer) are
wrapped in the signature backdoor. Measured: black-box agreement with the base model on every
test input and on >= 10^5 random / noisy / on-grid inputs; ASR for every target label with the
controls (honest model, random perturbation of the same ℓ0/ℓ2, wrong signing key); perturbation
sizes; non-replicability attacks (replaying observed perturbations onto new inputs, transplanting
the low-order digits, bit flips of a valid signature, random search) and the same attacks against
the checksum backdoor, which is replicable; the checksum's accidental trigger rate against 2^-n.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from matplotlib.figure import Figure as MplFigure

from .. import checksum, datasets, signature
from ..finetune import finetune
from ..metrics import (
    attack_success_rate,
    clean_accuracy,
    median_nn_distance,
    perturbation_norms,
    random_perturbation,
)
from . import Claim, Context, ExperimentResult, Figure, Table, register


def train_base(key, x, y, *, num_classes: int, steps: int = 300):
    """A linear base model (scalar score for 2 classes, logits otherwise) trained with Adam."""
    k_init, k_fit = jr.split(key)
    out = "scalar" if num_classes == 2 else num_classes
    model = eqx.nn.Linear(x.shape[1], out, key=k_init)
    return finetune(k_fit, model, x, y, optimizer=optax.adam(0.05), steps=steps)


def unit_cube(ds):
    """Min-max scaling to [0,1] fitted on the training split (test may leave [0,1] slightly)."""
    lo, hi = jnp.min(ds.x_train, 0), jnp.max(ds.x_train, 0)
    span = jnp.where(hi > lo, hi - lo, 1.0)
    return (ds.x_train - lo) / span, (ds.x_test - lo) / span


@eqx.filter_jit
def _outputs(model, x):
    return jax.vmap(model)(x)


def _fires_signature(model, x) -> np.ndarray:
    return np.asarray(signature.verify(model, x)[0])


@eqx.filter_jit
def _fires_checksum(bk, x):
    return jax.vmap(lambda z: checksum.checksum(bk, z))(x)


def _probe_inputs(key, x_test, num, lo=0.0, hi=1.0):
    """`num` inputs: uniform in the box, test inputs + Gaussian noise, and coarse-grid points."""
    k1, k2, k3, k4 = jr.split(key, 4)
    d = x_test.shape[1]
    a = num // 3
    uniform = jr.uniform(k1, (a, d), minval=lo, maxval=hi)
    idx = jr.randint(k2, (a,), 0, x_test.shape[0])
    noisy = x_test[idx] + 0.05 * (hi - lo) * jr.normal(k3, (a, d))
    grid = jnp.round(jr.uniform(k4, (num - 2 * a, d), minval=lo, maxval=hi) * 100) / 100
    return jnp.concatenate([uniform, noisy, grid])


def _batch_activate(bk):
    """One compiled batch activation per key; the targets are traced (no recompiles)."""
    return jax.jit(jax.vmap(lambda z, t: signature.activate(bk, z, t)))


def _reencode(enc, u):
    return ((u.astype(np.float64) + 0.5) / enc.scale).astype(np.float32)


def _signature_attacks(key, bm, bk, x, num):
    """Counts of backdoor openings by attackers who saw activated pairs but hold no key."""
    enc = bk.encoding
    m, b = enc.payload_coords, enc.bits_per_coord
    n = x.shape[0]
    ks = jr.split(key, 8)
    i = np.asarray(jr.randint(ks[0], (num,), 0, n))
    j = np.asarray(jr.randint(ks[1], (num,), 0, n))
    j = np.where(j == i, (j + 1) % n, j)
    labels = jnp.arange(enc.num_labels)
    if enc.binary:
        labels = jnp.array([-1.0, 1.0])
    t = labels[jr.randint(ks[2], (n,), 0, len(labels))]
    xa = _batch_activate(bk)(x, t)
    xn, xan = np.asarray(x), np.asarray(xa)
    u_a = np.floor(xan.astype(np.float64) * enc.scale).astype(np.int64)
    u_x = np.floor(xn.astype(np.float64) * enc.scale).astype(np.int64)
    mask = (1 << b) - 1
    rng = np.random.default_rng(int(jr.randint(ks[3], (), 0, 2**31 - 1)))
    # 1. replay x'_i - x_i onto x_j.
    replay = xn[j] + (xan[i] - xn[i])
    # 2. transplant the fine digits (signature + target) of x'_i onto x_j's coarse digits.
    trans = xn[j].copy()
    trans[:, :m] = _reencode(enc, ((u_x[j, :m] >> b) << b) + (u_a[i, :m] & mask))
    # 3. flip one payload bit of a valid x'_i (re-encoded canonically).
    flip = xan[i].copy()
    col = rng.integers(0, m, num)
    bit = rng.integers(0, b, num)
    u_f = u_a[i].copy()
    u_f[np.arange(num), col] ^= 1 << bit
    flip[:, :m] = _reencode(enc, u_f[:, :m])
    # 4. random search: random canonical payloads on x_j.
    rand = xn[j].copy()
    rand[:, :m] = _reencode(
        enc, ((u_x[j, :m] >> b) << b) + rng.integers(0, 1 << b, (num, m), dtype=np.int64)
    )
    attacks = {
        "replay perturbation x'_i - x_i onto new x_j": replay,
        "transplant the carrier (fine digits) of x'_i onto x_j": trans,
        "flip one bit of a valid signature/target": flip,
        "random search (random payloads)": rand,
    }
    return {
        k: int(_fires_signature(bm, jnp.asarray(v, jnp.float32)).sum()) for k, v in attacks.items()
    }


def _checksum_attacks(key, bk, x, num):
    n, d = x.shape
    ks = jr.split(key, 6)
    i = np.asarray(jr.randint(ks[0], (num,), 0, n))
    j = np.asarray(jr.randint(ks[1], (num,), 0, n))
    j = np.where(j == i, (j + 1) % n, j)
    xa = np.asarray(jax.vmap(lambda z: checksum.activate(bk, z, 1.0))(x))
    xn = np.asarray(x)
    rng = np.random.default_rng(int(jr.randint(ks[2], (), 0, 2**31 - 1)))
    # 1. replay the sign flips of (x_i, x'_i) onto x_j.
    replay = np.where(xa[i] != xn[i], -xn[j], xn[j])
    # 2. transplant the carrier (the sign pattern) of x'_i onto x_j (= checksum.replicate).
    trans = np.where(xa[i] >= 0, np.abs(xn[j]), -np.abs(xn[j]))
    # 3. flip two random signs of a valid x'_i (the analogue of a bit flip; survives when both
    #    fall in the same block).
    flip = xa[i].copy()
    others = np.delete(np.arange(d), bk.out_index)
    for a, row in zip(rng.integers(0, len(others), (num, 2)), flip):  # host-side index draws
        row[others[a]] *= -1
    # 4. random search: random sign patterns on x_j (magnitudes kept).
    rand = np.abs(xn[j]) * rng.choice([-1.0, 1.0], (num, d))
    attacks = {
        "replay perturbation x'_i - x_i onto new x_j": replay,
        "transplant the carrier (sign pattern) of x'_i onto x_j": trans,
        "flip two signs of a valid x'_i": flip,
        "random search (random sign patterns)": rand,
    }
    return {
        k: int(np.asarray(_fires_checksum(bk, jnp.asarray(v, x.dtype))).sum())
        for k, v in attacks.items()
    }


def _fmt(v, nd=3):
    return "—" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


@register(
    "signature",
    title="Signature backdoor (GKVZ §5.2) vs checksum backdoor (§5.1)",
    description="An Ed25519 signature hidden in the low-order digits opens any model for any "
    "target with ℓ∞ < 1e-2, agrees with the base model on every other input, and resists "
    "replay, bit-flip and random-search attacks; the checksum backdoor is replicable.",
    order=50,
)
def run(ctx: Context) -> ExperimentResult:
    quick = ctx.quick
    key = jr.key(ctx.seed)
    num_probe = 12_000 if quick else 120_000
    num_attack = 300 if quick else 3_000
    steps = 100 if quick else 300
    tables, claims, data = [], [], {}

    # --- base models and backdoors -------------------------------------------------------
    digits = datasets.load("digits", seed=ctx.seed, normalize="none")
    dxtr, dxte = digits.x_train / 16.0, digits.x_test / 16.0  # pixels 0..16 -> [0, 1]
    bc = datasets.load("breast_cancer", seed=ctx.seed, normalize="none")
    bxtr, bxte = unit_cube(bc)
    k = jr.split(key, 8)
    setups = {}
    base_d = train_base(k[0], dxtr, digits.y_train, num_classes=10, steps=steps)
    bm_d, bk_d = signature.backdoor(base_d, input_dim=64)  # defaults: step 1e-2, 9 bits
    setups["digits"] = (base_d, bm_d, bk_d, dxte, digits.y_test, list(range(10)))
    base_b = train_base(k[1], bxtr, bc.y_train, num_classes=2, steps=steps)
    # d = 30 < 57: 18 bits per coordinate, coarse step 0.1 (float32 range, module docstring)
    bm_b, bk_b = signature.backdoor(base_b, input_dim=30, bits_per_coord=18, step=0.1)
    setups["breast_cancer"] = (base_b, bm_b, bk_b, bxte, bc.y_test, [-1.0, 1.0])

    # --- black-box agreement -------------------------------------------------------------
    agree_rows, total_probe, total_diff = [], 0, 0
    for j, (name, (base, bm, _, xte, _, _)) in enumerate(setups.items()):
        probe = _probe_inputs(jr.fold_in(k[2], j), xte, num_probe)
        for what, xs in (("test inputs", xte), ("random / noisy / on-grid", probe)):
            o_bm, o_base = _outputs(bm, xs), _outputs(base, xs)
            differ = o_bm != o_base
            diff = int(jnp.sum(jnp.any(differ, axis=-1) if differ.ndim == 2 else differ))
            agree_rows.append([name, what, int(xs.shape[0]), diff])
            total_probe += int(xs.shape[0])
            total_diff += diff
    tables.append(
        Table(
            "Black-box agreement: inputs whose output differs (bit for bit) between base and "
            "signature-backdoored model",
            ["dataset", "inputs", "count", "outputs differing"],
            agree_rows,
        )
    )
    claims.append(
        Claim(
            "The signature-backdoored model equals the base model on every input without a valid "
            "signature (black-box undetectable)",
            "GKVZ Thm 5.4",
            f"{total_diff} differing outputs among {total_probe} inputs",
            total_diff == 0 if total_probe >= (3e4 if quick else 2e5) else None,
            "0 differences over >= 1e5 inputs per dataset (undecided in quick mode below that)",
        )
    )

    # --- ASR per target with controls and sizes ------------------------------------------
    asr_rows, asrs, linfs = [], [], {}
    for j, (name, (base, bm, bk, xte, yte, labels)) in enumerate(setups.items()):
        wrong = signature.SignatureKey(Ed25519PrivateKey.generate(), bk.encoding)
        acc_h, acc_b = clean_accuracy(base, xte, yte), clean_accuracy(bm, xte, yte)
        scale = median_nn_distance(xte)
        act, act_wrong = _batch_activate(bk), _batch_activate(wrong)
        for t in labels:
            tt = jnp.full((xte.shape[0],), t)
            x_act, x_wrong = act(xte, tt), act_wrong(xte, tt)
            x_rand = random_perturbation(jr.fold_in(k[3], j), xte, x_act)
            asr = lambda m, xa, t=t, x=xte, y=yte: attack_success_rate(m, x, xa, target=t, y=y)
            norms = perturbation_norms(xte, x_act)
            a = asr(bm, x_act)
            asrs.append(a)
            linf = float(jnp.max(norms["linf"]))
            linfs.setdefault(name, []).append(linf)
            asr_rows.append(
                [
                    name,
                    _fmt(t, 0) if isinstance(t, float) else t,
                    _fmt(acc_h),
                    _fmt(acc_b),
                    _fmt(a),
                    _fmt(asr(base, x_act)),
                    _fmt(asr(bm, x_rand)),
                    _fmt(asr(bm, x_wrong)),
                    _fmt(float(jnp.mean(norms["l0"])), 1),
                    _fmt(float(jnp.mean(norms["l2"]))),
                    _fmt(linf, 4),
                    _fmt(float(jnp.median(norms["l2"])) / scale),
                ]
            )
        data[name] = {
            "clean_accuracy_honest": acc_h,
            "clean_accuracy_backdoored": acc_b,
            "step": bk.encoding.step,
            "bits_per_coord": bk.encoding.bits_per_coord,
            "payload_coords": bk.encoding.payload_coords,
        }
    tables.append(
        Table(
            "ASR for every target label, next to controls (honest model, random perturbation of "
            "the same ℓ0/ℓ2, wrong signing key) and perturbation sizes (ℓ0, ℓ2 means; ℓ∞ max over "
            "inputs; rel. ℓ2 = median ℓ2 / median nearest-neighbour distance)",
            [
                "dataset",
                "target",
                "clean acc honest",
                "clean acc backdoored",
                "ASR",
                "ctrl honest",
                "ctrl random",
                "ctrl wrong key",
                "ℓ0",
                "ℓ2",
                "ℓ∞",
                "rel. ℓ2",
            ],
            asr_rows,
            note="digits: d=64, step 1e-2, 9 bits/coordinate (58 coordinates carry 516 bits); "
            "breast_cancer: d=30 needs 18 bits/coordinate, step 0.1 (float32 range). The honest "
            "control counts inputs the base model already labels `target` (inputs whose true "
            "label is the target are excluded from every column).",
        )
    )
    claims.append(
        Claim(
            "Every input can be activated for every target label",
            "GKVZ Thm 5.4 (Activate)",
            f"min ASR over {len(asrs)} (dataset, target) pairs = {min(asrs):.4f}",
            bool(min(asrs) == 1.0),
            "ASR = 1 for every target",
        )
    )
    max_linf_d = float(np.max(linfs["digits"]))
    claims.append(
        Claim(
            "Activation changes each coordinate by less than the coarse step (ℓ∞ < 1e-2 on "
            "[0,1]^64)",
            "this library's encoding (GKVZ Thm 5.4 generalised to R^d)",
            f"max ℓ∞ over all digits test inputs and targets: {max_linf_d:.5f}",
            bool(max_linf_d < 1e-2),
            "max ℓ∞ < 1e-2",
        )
    )

    # --- non-replicability: signature vs checksum ----------------------------------------
    std = datasets.load("breast_cancer", seed=ctx.seed)  # standardised: signs carry information
    base_c = train_base(k[4], std.x_train, std.y_train, num_classes=2, steps=steps)
    n_blocks = 8
    bm_c, bk_c = checksum.backdoor(k[5], base_c, input_dim=std.dim, num_blocks=n_blocks)
    sig_att = _signature_attacks(k[6], bm_d, bk_d, dxte, num_attack)
    sig_att_b = _signature_attacks(jr.fold_in(k[6], 1), bm_b, bk_b, bxte, num_attack)
    cs_att = _checksum_attacks(k[7], bk_c, std.x_test, num_attack)
    rows = []
    for (a, s1), s2, (c_name, c) in zip(sig_att.items(), sig_att_b.values(), cs_att.items()):
        rows.append([a, num_attack, s1, s2, c_name, c, _fmt(c / num_attack)])
    tables.append(
        Table(
            "Replication attempts without the key: backdoor openings (valid signature / checksum "
            "passes) out of the attempts, from observed activated pairs (x_i, x'_i)",
            [
                "attack on signature",
                "attempts",
                "openings (digits)",
                "openings (breast_cancer)",
                f"analogous attack on checksum (n={n_blocks})",
                "openings",
                "rate",
            ],
            rows,
            note=f"Checksum on standardised breast_cancer (d={std.dim}, n={n_blocks} blocks, "
            f"2^-n = {2.0**-n_blocks:.4f}).",
        )
    )
    sig_total = sum(sig_att.values()) + sum(sig_att_b.values())
    transplant_rate = list(cs_att.values())[1] / num_attack
    claims.append(
        Claim(
            "The signature backdoor is non-replicable: observed pairs, bit flips and random search "
            "open no new input",
            "GKVZ Thm 5.4 (strong unforgeability)",
            f"{sig_total} openings in {8 * num_attack} attempts",
            sig_total == 0,
            "0 openings",
        )
    )
    claims.append(
        Claim(
            "The checksum backdoor is replicable: one activated pair opens every other input",
            "GKVZ §5.1 (after Thm 5.3)",
            f"sign-pattern transplant opens {transplant_rate:.3f} of new inputs; random sign "
            f"patterns {list(cs_att.values())[3] / num_attack:.4f} (2^-n = {2.0**-n_blocks:.4f})",
            transplant_rate >= 0.99,
            "transplant success >= 0.99",
        )
    )

    # --- accidental trigger rate ---------------------------------------------------------
    ns = [1, 4, 8] if quick else list(range(1, 11))
    num_trig = 20_000 if quick else 200_000
    d_trig = 32
    rates, ok_all = [], True
    xg = jr.normal(jr.fold_in(key, 99), (num_trig, d_trig))
    dummy = eqx.nn.Linear(d_trig, "scalar", key=k[0])
    trig_rows = []
    for n in ns:
        _, bk_n = checksum.backdoor(jr.fold_in(key, n), dummy, input_dim=d_trig, num_blocks=n)
        r = float(jnp.mean(_fires_checksum(bk_n, xg)))
        p = 2.0**-n
        sd = math.sqrt(p * (1 - p) / num_trig)
        ok = abs(r - p) <= 4 * sd
        ok_all &= ok
        rates.append(r)
        trig_rows.append([n, f"{p:.5f}", f"{r:.5f}", f"{sd:.5f}", "yes" if ok else "no"])
    tables.append(
        Table(
            f"Checksum accidental trigger rate on {num_trig} Gaussian inputs (d={d_trig}) vs 2^-n",
            ["n (num_blocks)", "2^-n", "measured", "binomial sd", "within 4 sd"],
            trig_rows,
        )
    )
    claims.append(
        Claim(
            "The checksum holds accidentally with probability 2^-n",
            "GKVZ Lemma 5.1 / Thm 5.3",
            f"rates {', '.join(f'{r:.4f}' for r in rates)} for n = {ns}",
            bool(ok_all),
            "within 4 binomial sd of 2^-n for every n",
        )
    )
    fig = MplFigure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ax.semilogy(ns, [2.0**-n for n in ns], "k--", label="2^-n (Lemma 5.1)")
    ax.semilogy(ns, np.maximum(rates, 1e-7), "o", label="measured")
    ax.set_xlabel("num_blocks n")
    ax.set_ylabel("accidental trigger rate")
    ax.legend()
    fig.tight_layout()
    data.update(
        {
            "agreement": agree_rows,
            "signature_attacks": {"digits": sig_att, "breast_cancer": sig_att_b},
            "checksum_attacks": cs_att,
            "num_attack": num_attack,
            "trigger_rates": dict(zip(ns, rates)),
        }
    )
    return ExperimentResult(
        name="signature",
        title="Signature backdoor (GKVZ §5.2) vs checksum backdoor (§5.1)",
        summary=(
            "The Ed25519 signature backdoor agrees bit for bit with the base model on "
            f"{total_probe} non-activated inputs ({total_diff} differences), reaches ASR "
            f"{min(asrs):.3f} for every target with ℓ∞ ≤ {max_linf_d:.4f} on digits, and no "
            f"replication attempt opened it ({sig_total} of {8 * num_attack}); the checksum "
            f"backdoor is opened by transplanting one activated sign pattern "
            f"({transplant_rate:.3f}) and triggers accidentally at rate ≈ 2^-n."
        ),
        claims=claims,
        tables=tables,
        figures=[
            Figure(
                "signature_checksum_trigger_rate.png",
                "Checksum accidental trigger rate vs number of blocks, against 2^-n.",
                fig,
            )
        ],
        data=data,
    )
