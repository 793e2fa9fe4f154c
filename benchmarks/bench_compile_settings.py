"""Benchmark: what XLA's compile settings cost and save, and whether they compute right.

`reproduce --quick` and the default test suite compile about a thousand programs and run most
once, so they compile with most XLA optimisations off. This measures that trade, and one more
setting that looked like a further saving, on the kinds of program they compile, each setting in
its own process (XLA reads `$XLA_FLAGS` once):

- `default`: XLA's defaults;
- `most_optimizations_off`: `jax_disable_most_optimizations` (what jaxbd's quick runs use);
- `legacy_emitters`: `--xla_cpu_use_fusion_emitters=false` (XLA:CPU's older elemental emitters);
- `both`: the two together.

Workloads: 40 one-operation programs of distinct shapes (jnp on concrete arrays, as experiments
do between library calls); a 50-step Adam loop of a 64-128-128-10 MLP (`lax.scan`); the
memorizing candidate search (digits 3/8); one CERTIFY call (linear model of digits, n = 10^4).
For each: the first call (trace + compile + one run) and the warm run, as CPU seconds of the
process (`time.process_time`: robust to other load, since XLA compiles on one thread) and wall
seconds. Ratios are against `default` in the same run.

**Correctness** (`gather_check`): a vmapped perceptron layer `sum(w * z[index]) - b >= 0` with a
runtime `index` (the lattice-signature verifier's `PerceptronLayer` with the model passed as an
argument), against numpy. The legacy emitters compile faster but got 29 % of its entries wrong on
jaxlib 0.10.2 (2026-12-02), which made the lattice-signature backdoor fail to open in
`reproduce --quick`; jaxbd therefore does not use them. The check records the count for every
setting, so a jaxlib that fixes it shows here; the benchmark exits with an error if `default` or
`most_optimizations_off` (the settings jaxbd uses) get any entry wrong.

    python benchmarks/bench_compile_settings.py [--quick]
"""

import json
import os
import subprocess
import sys
import time

from _common import arguments, host, write_json


CPU_LEGACY_EMITTERS = "--xla_cpu_use_fusion_emitters=false"

SETTINGS = {
    "default": ({}, False),
    "most_optimizations_off": ({"JAX_DISABLE_MOST_OPTIMIZATIONS": "1"}, False),
    "legacy_emitters": ({}, True),
    "both": ({"JAX_DISABLE_MOST_OPTIMIZATIONS": "1"}, True),
}


def _clock():
    return time.process_time(), time.perf_counter()


def _since(start):
    cpu, wall = _clock()
    return {"cpu_s": cpu - start[0], "wall_s": wall - start[1]}


def _first_and_warm(fn, repeats=3):
    import jax

    t = _clock()
    jax.block_until_ready(fn())
    first = _since(t)
    warm = []
    for _ in range(repeats):
        t = _clock()
        jax.block_until_ready(fn())
        warm.append(_since(t))
    best = min(warm, key=lambda w: w["wall_s"])
    return {"first": first, "warm": best}


def child(quick: bool) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np
    import optax

    from jaxbd import datasets, linear, memorizing, smoothing

    out = {}
    rng = np.random.default_rng(0)
    z = (rng.random((200, 768)) < 0.5).astype(np.float32)
    index = rng.integers(0, 768, (704, 2)).astype(np.int32)
    w, b = np.ones((704, 2), np.float32), np.full(704, 2.0, np.float32)

    def layer(index, w, b, z):
        return jnp.where(jnp.sum(w * z[index], axis=-1) - b >= 0, 1.0, 0.0)

    want = ((w[None] * z[:, index]).sum(-1) - b >= 0).astype(np.float32)
    got = jax.jit(jax.vmap(layer, in_axes=(None, None, None, 0)))(index, w, b, z)
    out_check = {"wrong_entries": int((np.asarray(got) != want).sum()), "entries": want.size}
    t = _clock()
    for n in range(1, 41):
        jax.block_until_ready(jnp.ones((n, 3)) * 2.0)
    out["one_op_x40"] = {"first": _since(t)}

    mlp = eqx.nn.MLP(64, 10, 128, 2, key=jr.key(0))
    params, static = eqx.partition(mlp, eqx.is_array)
    opt = optax.adam(1e-3)
    x, y = jnp.ones((256, 64)), jnp.zeros(256, jnp.int32)

    @jax.jit
    def train(p):
        def loss(p):
            logits = jax.vmap(eqx.combine(p, static))(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        def step(c, _):
            p, st = c
            u, st = opt.update(jax.grad(loss)(p), st)
            return (optax.apply_updates(p, u), st), None

        return jax.lax.scan(step, (p, opt.init(p)), None, length=50)[0][0]

    out["train_loop"] = _first_and_warm(lambda: train(params))
    if not quick:
        pair = datasets.load("digits", classes=(3, 8))
        out["memorizing_search_1000"] = _first_and_warm(
            lambda: (
                memorizing.candidate_search(
                    jr.key(0), pair.x_train, pair.y_train, num_candidates=1000
                ).valid
            )
        )
        ds = datasets.load("digits")
        model = linear.train_linear(jr.key(0), ds.x_train, ds.y_train)
        x0 = jnp.asarray(ds.x_test[0], jnp.float32)
        kw = dict(sigma=0.5, n0=100, num_samples=10_000, alpha=0.001)
        out["certify_one_point"] = _first_and_warm(
            lambda: smoothing.certify(jr.key(1), model, x0, **kw)[1]
        )
    return {"workloads": out, "gather_check": out_check}


def main(argv=None):
    ap = arguments(__doc__, "compile_settings", "one-op programs and the training loop only")
    ap.add_argument("--child", choices=list(SETTINGS), help=None)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.quick)))
        return
    runs, checks = {}, {}
    for name, (extra, legacy) in SETTINGS.items():
        env = {k: v for k, v in os.environ.items() if k != "JAX_DISABLE_MOST_OPTIMIZATIONS"}
        flags = [f for f in env.get("XLA_FLAGS", "").split() if "fusion_emitters" not in f]
        env["XLA_FLAGS"] = " ".join(flags + ([CPU_LEGACY_EMITTERS] if legacy else []))
        env.update(extra)
        cmd = [sys.executable, __file__, "--child", name] + (["--quick"] if args.quick else [])
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        child_out = json.loads(res.stdout.strip().splitlines()[-1])
        runs[name] = child_out["workloads"]
        checks[name] = child_out["gather_check"]
    ratios = {}
    for name, r in runs.items():
        ratios[name] = {
            w: {
                f"{part}_cpu_over_default": r[w][part]["cpu_s"] / runs["default"][w][part]["cpu_s"]
                for part in r[w]
            }
            for w in r
        }
    result = {
        "benchmark": "XLA compile settings (fresh process each)",
        "settings": {k: {"env": v[0], "legacy_emitters": v[1]} for k, v in SETTINGS.items()},
        "runs": runs,
        "ratios_to_default": ratios,
        "gather_check": checks,
        **host(),
        "load_average": os.getloadavg(),
        "quick": args.quick,
    }
    path = write_json(args.out, result)
    for name in runs:
        parts = ", ".join(
            f"{w} first {runs[name][w]['first']['cpu_s']:.2f} CPU-s"
            + (
                f" warm {runs[name][w]['warm']['wall_s'] * 1e3:.1f} ms"
                if "warm" in runs[name][w]
                else ""
            )
            for w in runs[name]
        )
        wrong = checks[name]["wrong_entries"]
        print(f"{name}: {parts}; gather check: {wrong} of {checks[name]['entries']} wrong")
    print(f"wrote {path}")
    # The settings jaxbd compiles with must compute right; the legacy emitters are recorded only.
    broken = [n for n in ("default", "most_optimizations_off") if checks[n]["wrong_entries"]]
    if broken:
        sys.exit(f"gather check: wrong results under {broken}, settings jaxbd uses")


if __name__ == "__main__":
    main()
