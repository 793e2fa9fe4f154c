r"""A real forgery attack with fpylll: solve the verifier's ISIS instance by lattice reduction.

The forger holds only the public model. For a message $M$ (of any input it likes, with any
target) it needs $e'$ with entries in $[-B, B-1]$ and $\mathrm{dist}(A'_M e' - u, q\mathbb{Z})
\le \tau$ row by row, i.e. a short solution of $[I_n \mid A'_M]\,(e_I, e') \equiv u$. Following
the estimate (`_security.py`), it keeps $d' - n$ columns of $A'_M$ (the rest of $e'$ is zero)
and uses Kannan's embedding: the rows

$$\begin{pmatrix} q I_n & 0 & 0 \\ -A'^T_{\text{cols}} \bmod q & I_{d'-n} & 0 \\ u^T & 0 & \mu
\end{pmatrix}$$

generate a lattice in which $(e_I, e', \pm\mu)$ is unusually short. LLL (and then BKZ with the
given block sizes) is run with fpylll; every reduced row with last entry $\pm\mu$ is tried. A
solution meeting the verifier's bounds is a forgery: written into an input it opens the backdoor
of the *network* for the chosen target (checked in the experiment and the tests).
"""

import json
import math
import subprocess
import sys
import time
from typing import Any

import numpy as np

from .._optional import fpylll
from .._validate import check_int_range, check_positive, check_target
from ._activate import encode_signature, prepare_message
from ._checks import as_encoding, as_params, check_bits, check_unit_rows, host_array
from ._params import LatticeParams
from ._scheme import check_signature, selected_extension
from ._security import _best_dimension, root_hermite_factor


__all__ = ["forge_signature", "forge", "public_key_of", "forgery_frontier", "replication_attempts"]

# BKZ runs in a child process: fplll can abort the whole process ("infinite loop in babai", a
# floating-point precision failure) and a block size can take longer than the time budget.
_BKZ_WORKER = """
import json, sys
from fpylll import BKZ, LLL, IntegerMatrix
from fpylll.fplll.bkz_param import BKZParam
job = json.load(sys.stdin)
a = IntegerMatrix.from_matrix(job["rows"])
if job["beta"] <= 2:
    LLL.reduction(a)
else:
    flags = BKZ.AUTO_ABORT | BKZ.MAX_LOOPS
    par = BKZParam(block_size=job["beta"], max_loops=job["loops"], flags=flags)
    BKZ.reduction(a, par, float_type="long double")  # doubles abort ("infinite loop in babai")
json.dump([[a[i, j] for j in range(a.ncols)] for i in range(a.nrows)], sys.stdout)
"""


_IN_PROCESS_DIM = 160  # LLL below this dimension runs in-process (fast, never seen to fail)


def _bkz(rows, beta: int, timeout: float, loops: int = 4):
    """LLL (β <= 2) or BKZ-β (fpylll, no pruning strategies: its wheel ships none) on `rows` in a
    child process; `(reduced rows, None)`, or `(None, reason)` on a crash or timeout."""
    job = json.dumps({"rows": rows, "beta": int(beta), "loops": int(loops)})
    name = "LLL" if beta <= 2 else f"BKZ-{beta}"
    try:
        out = subprocess.run(
            [sys.executable, "-c", _BKZ_WORKER], input=job, capture_output=True, text=True,
            timeout=max(1.0, timeout), check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"{name}: time limit"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"{name}: fplll failed ({last[:120]})"
    return json.loads(out.stdout), None


def _attack_dimension(p: LatticeParams, beta: int, max_dim: int) -> int:
    """The sub-lattice dimension the estimate says is best for BKZ-β (else the
    $\\sqrt{n \\log q / \\log \\delta}$ optimum of the norm), clipped to `[n + 2, max_dim]`."""
    top = p.n + p.entries
    best = _best_dimension(beta, p.n, p.log_q, top, p.bound)
    if best is not None:
        d = best[0]
    else:
        d = int(math.sqrt(p.n * p.log_q / math.log2(root_hermite_factor(beta))))
    return int(min(max(d, p.n + 2), top, max_dim))


def forge_signature(p: LatticeParams, public: dict, message, *, block_sizes=(2, 10, 20),
                    max_dim: int = 260, seed: int = 0, time_limit: int | float = 60.0):  # fmt: skip
    """Try to forge signature entries for `message` from the public key alone.

    **Arguments:** `p`; `public`, a dict of the public arrays (`a_hat`, `a_gadget`, `ext0`,
    `ext1`, `u`); `message` (`(k,)` bits); `block_sizes` (2 = LLL only, then BKZ-β in turn);
    `max_dim`, a cap on the lattice dimension; `seed` picks the kept columns; `time_limit`
    (seconds; BKZ runs in a child process that is stopped at the limit).

    **Returns:** `(entries, info)`: the forged entries `(L,)` (or `None`) and a dict with the
    dimension, the block size that succeeded, seconds, and the best bounds reached.
    """
    p = as_params(p)
    public = _check_public(p, public)
    message = check_bits(message, "message", p.message_bits)
    block_sizes = _check_block_sizes(block_sizes)
    max_dim = check_int_range(max_dim, "max_dim", low=p.n + 2)
    seed = check_int_range(seed, "seed", low=0)
    time_limit = float(check_positive(time_limit, "time_limit"))
    LLL, IntegerMatrix = fpylll("LLL", "IntegerMatrix")

    q, n = p.q, p.n
    a_r = np.concatenate(
        [public["a_hat"], public["a_gadget"],
         selected_extension(p, public["ext0"], public["ext1"], message)], axis=1,
    ).astype(np.int64)  # fmt: skip
    first = block_sizes[0] if block_sizes else 2
    dim = _attack_dimension(p, max(2, int(first)), max_dim)
    cols = np.sort(np.random.default_rng(seed).choice(p.entries, dim - n, replace=False))
    centre = lambda a: np.where(np.mod(a, q) >= q // 2, np.mod(a, q) - q, np.mod(a, q))
    u = centre(np.asarray(public["u"], np.int64))
    mu = max(1, p.bound // 2)
    rows = np.zeros((dim + 1, dim + 1), np.int64)
    rows[:n, :n] = q * np.eye(n, dtype=np.int64)
    rows[n:dim, :n] = centre(-a_r[:, cols].T)
    rows[n:dim, n:dim] = np.eye(dim - n, dtype=np.int64)
    rows[dim, :n] = u
    rows[dim, dim] = mu
    basis = IntegerMatrix.from_matrix(rows.tolist())
    info: dict[str, Any] = dict(dimension=dim + 1, kept_columns=dim - n, block_size=None, seconds=0.0,
                best_linf_ratio=math.inf, tried=[])  # fmt: skip
    t0 = time.perf_counter()

    def scan():
        best = math.inf
        for i in range(basis.nrows):
            row = np.array([basis[i, j] for j in range(basis.ncols)], np.int64)
            if abs(row[-1]) != mu:
                continue
            v = row * int(np.sign(row[-1]))
            e_id, e_r = v[:n], v[n:dim]
            ratio = max(np.max(np.abs(e_id)) / p.tolerance, np.max(np.abs(e_r)) / p.bound)
            best = min(best, ratio)
            entries = np.zeros(p.entries, np.int64)
            entries[cols] = e_r
            if check_signature(p, public, message, entries):
                return entries, best
        return None, best

    for beta in block_sizes:
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            info.setdefault("errors", []).append("time limit")
            break
        beta = int(beta)
        if beta <= 2 and dim <= _IN_PROCESS_DIM:
            try:
                LLL.reduction(basis)
            except RuntimeError as err:  # fplll gave up: count it as a failure
                info.setdefault("errors", []).append(f"LLL: {err}")
                break
        else:
            cur = [[basis[i, j] for j in range(basis.ncols)] for i in range(basis.nrows)]
            red, err = _bkz(cur, min(beta, dim + 1), left)
            if red is None:
                info.setdefault("errors", []).append(err)
                break
            basis = IntegerMatrix.from_matrix(red)
        info["tried"].append(beta)
        entries, best = scan()
        info["best_linf_ratio"] = min(info["best_linf_ratio"], best)
        if entries is not None:
            info.update(block_size=beta, seconds=time.perf_counter() - t0)
            return entries, info
    info["seconds"] = time.perf_counter() - t0
    return None, info


def _check_public(p: LatticeParams, public) -> dict:
    """The public arrays `a_hat`, `a_gadget`, `ext0`, `ext1`, `u` with the shapes of `p`."""
    shapes = dict(a_hat=(p.n, p.mbar - p.n), a_gadget=(p.n, p.w), ext0=(p.n, p.extension_entries),
                  ext1=(p.n, p.extension_entries), u=(p.n,))  # fmt: skip
    if not isinstance(public, dict) or not set(shapes) <= set(public):
        raise ValueError(f"`public` must be a dict holding {sorted(shapes)}.")
    out = dict(public)
    for k, shape in shapes.items():
        out[k] = host_array(public[k], f"public[{k!r}]", integer=True)
        if out[k].shape != shape:
            raise ValueError(f"`public[{k!r}]` must have shape {shape}, got {out[k].shape}.")
    return out


def _check_block_sizes(block_sizes) -> tuple[int, ...]:
    if isinstance(block_sizes, (str, bytes)) or not hasattr(block_sizes, "__iter__"):
        raise ValueError(f"`block_sizes` must be a sequence of integers, got {block_sizes!r}.")
    out = tuple(check_int_range(b, "block_sizes", low=2, high=1024) for b in block_sizes)
    if not out:
        raise ValueError("`block_sizes` must name at least one block size (2 = LLL).")
    return out


def public_key_of(model) -> dict:
    """The public key as the forger reads it off the model's weights (verify and hash layers)."""
    p = model.params
    w = np.asarray(model.verify_sine.weight, np.int64)
    a, g, e = p.mbar - p.n, p.w, p.extension_entries
    ext0 = w[:, a + g : a + g + e]
    delta = w[:, a + g + e :]
    return dict(
        a_hat=w[:, :a], a_gadget=w[:, a : a + g], ext0=ext0, ext1=np.mod(ext0 + delta, p.q),
        u=np.asarray(model.verify_sine.bias, np.int64),
        hash_matrix=np.asarray(model.hash_sine.weight, np.int64),
    )  # fmt: skip


def forge(model, x, target, **kwargs):
    """Forge an activated input for `x` and `target` from the backdoored `model` alone.

    **Returns:** `(x_forged or None, info)`; `kwargs` go to [`forge_signature`][].
    """
    from ._model import LatticeSignatureBackdooredModel

    if not isinstance(model, LatticeSignatureBackdooredModel):
        raise ValueError(
            f"`model` must be a LatticeSignatureBackdooredModel, got {type(model).__name__}."
        )
    p, enc = model.params, model.encoding
    pub = public_key_of(model)
    xn = np.clip(host_array(x, "x", ndim=1), 0.0, 1.0)
    if xn.shape != (enc.input_dim,):
        raise ValueError(f"`x` must have shape ({enc.input_dim},), got {xn.shape}.")
    t = check_target(target, 2 if enc.binary else enc.num_labels)
    bits, message = prepare_message(enc, p, pub["hash_matrix"], xn, enc.label_to_index(t))
    entries, info = forge_signature(p, pub, message, **kwargs)
    if entries is None:
        return None, info
    return encode_signature(enc, p, bits, entries, np.asarray(x).dtype), info


def forgery_frontier(points, *, block_sizes=(2,), time_limit=60.0, seed=0) -> list[dict]:
    """[`forge_signature`][] at generic parameter sets `(n, log_q)` (toy message hash, fresh
    keys): one dict per point with the estimate (`est_beta`, `est_dim`), whether it forged, the
    reductions completed, what stopped it, the best bound ratio and the seconds."""
    from ._scheme import keygen
    from ._security import security_estimate

    points = _check_points(points)
    block_sizes = _check_block_sizes(block_sizes)
    check_positive(time_limit, "time_limit")
    seed = check_int_range(seed, "seed", low=0)
    rows = []
    for n, kappa in points:
        p = LatticeParams(f"n{n}q{kappa}", n=n, log_q=kappa, hash_rows=1, hash_log_q=8,
                             stat_security=16, smoothing_security=32)  # fmt: skip
        est = security_estimate(p).forgery
        pub = keygen(np.random.default_rng(seed), p)
        msg = np.random.default_rng(seed + 1).integers(0, 2, p.message_bits)
        e, info = forge_signature(p, pub, msg, block_sizes=block_sizes, max_dim=320,
                                     time_limit=time_limit)  # fmt: skip
        rows.append(dict(n=n, log_q=kappa, est_beta=est.beta, est_dim=est.dimension,
                         forged=e is not None, block_size=info["block_size"],
                         dim=info["dimension"], best_ratio=float(info["best_linf_ratio"]),
                         seconds=info["seconds"], completed=list(info["tried"]),
                         stopped="; ".join(info.get("errors", []))))  # fmt: skip
    return rows


def _check_points(points) -> list[tuple[int, int]]:
    bad = f"`points` must be a sequence of (n, log_q) integer pairs, got {points!r}."
    if isinstance(points, (str, bytes)) or not hasattr(points, "__iter__"):
        raise ValueError(bad)
    out = []
    for pt in points:
        if isinstance(pt, (str, bytes)) or not hasattr(pt, "__len__") or len(pt) != 2:
            raise ValueError(bad)
        out.append((check_int_range(pt[0], "points (n)", low=1, high=4096),
                    check_int_range(pt[1], "points (log_q)", low=4, high=20)))  # fmt: skip
    if not out:
        raise ValueError("`points` must hold at least one (n, log_q) pair.")
    return out


def replication_attempts(enc, xa, x, z, *, seed: int = 0) -> dict:
    """What an observer of activated pairs $(x_i, x'_i)$ can try without the key (and without
    lattice reduction), on other inputs `z`: replay the perturbation, transplant the payload,
    flip one grid bit of a valid $x'_i$, or write random signature bits. Returns a dict of
    attempted inputs (numpy, one per row); the tests and the experiment count how many verify."""
    enc = as_encoding(enc)
    xa, x, z = (check_unit_rows(a, nm, enc.input_dim, ndim=2) for a, nm in
                ((xa, "xa"), (x, "x"), (z, "z")))  # fmt: skip
    if not xa.shape == x.shape == z.shape:
        raise ValueError(
            f"`xa`, `x` and `z` must have the same shape, got {xa.shape}, {x.shape}, {z.shape}."
        )
    rng = np.random.default_rng(check_int_range(seed, "seed", low=0))
    n = x.shape[0]
    bits = enc.to_bits(enc.grid(np.asarray(xa)))
    bz = enc.to_bits(enc.grid(np.asarray(z)))
    out = {"replay x'_i - x_i onto new z": np.clip(np.asarray(z) + np.asarray(xa - x), 0, 1)}
    pay = np.concatenate([enc.signature_index, enc.target_index, enc.padding_index])
    t = bz.copy()
    t[:, pay] = bits[:, pay]
    out["transplant the payload of x'_i onto z"] = enc.centres(enc.from_bits(t), np.float32)
    f = bits.copy()
    f[np.arange(n), rng.integers(0, enc.grid_size, n)] ^= 1
    out["flip one grid bit of a valid x'_i"] = enc.centres(enc.from_bits(f), np.float32)
    r = bz.copy()
    r[:, enc.signature_index] = rng.integers(0, 2, (n, enc.signature_bits))
    out["random search (random signature bits)"] = enc.centres(enc.from_bits(r), np.float32)
    return out
