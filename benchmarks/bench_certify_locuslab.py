"""CERTIFY of jaxbd against Cohen et al.'s own PyTorch code (locuslab/smoothing `core.Smooth`).

Same models, same parameters, same test points, in the same run:

- `digits_linear`: a 10-class linear model (softmax regression, `jaxbd.linear.train_linear`) of
  scikit-learn's 8x8 `digits` (`jaxbd.datasets.load("digits")`, 64 features; not MNIST);
- `mlp784`: a 784-256-256-10 ReLU MLP trained (Adam, `jaxbd.finetune`) on the digits images
  bilinearly **upsampled** from 8x8 to 28x28 (784 features, MNIST-sized; still not MNIST).

The torch model of each is a copy of the same weights. Parameters: sigma = 0.5, n0 = 100,
n = 10,000, alpha = 0.001, 120 test points (30 for the MLP: ~20x the work per point), evaluation `batch_size` 4096 for both libraries.

Measured (best of `--repeats`, after a warm-up call; compile time reported separately as
first call - best run):

- `jaxbd_certify_batch`: one `jaxbd.smoothing.certify_batch` call on all points, per point;
- `jaxbd_certify_single`: one eager `jaxbd.smoothing.certify` call per point (Python loop);
- `fused_bound`: the "sample + evaluate + count" lower bound: one `jit` that draws the
  `n0 + n` Gaussian noise vectors in chunks of `batch_size` (one `jr.normal` per chunk, no
  per-draw keys), evaluates the model and counts the labels, mapped over the points with a
  plain `lax.map` (`fused_bound_single`: the same per point from Python); no certificate, no
  checks. (Drawing all `(n0 + n, d)` noise at once was slower for the MLP: 32 MB resident.)
- `locuslab`: `Smooth(model, num_classes, sigma).certify(x, n0, n, alpha, batch_size)` per
  point (their code, unmodified, imported from `--locuslab PATH` or `$LOCUSLAB_SMOOTHING`:
  the path of their `code/core.py`; their repository has no license file, so it is not vendored
  here). Two shims make their file import on a current CPU stack: `scipy.stats.binom_test`
  (removed from SciPy; only their PREDICT uses it) is aliased to `binomtest(...).pvalue`, and
  their `torch.randn_like(batch, device='cuda')` is run on the batch's own device when CUDA is
  absent. Skipped, with the reason in the JSON, when torch, statsmodels or the file is missing
  (CI installs none of them).

Agreement (both libraries use independent noise, so only statistical agreement is expected):
the fraction of points where both certify and give the same label, each library's abstention
rate, and the mean |radius difference| over points both certify.

Profile behind the design (CPU, 2 cores, the digits linear model, 10,100 draws of 64-d noise
per point). On a quiet machine (load ~2): noise generation dominates. One
`jr.normal(key, (10100, 64))` with the default threefry key takes ~2 ms; with an `rbg` key ~11 ms
and `unsafe_rbg` ~15 ms (XLA's CPU RngBitGenerator is slower than threefry here, so the key
implementation stays the caller's and the RNG scheme is unchanged); per-draw keys
`fold_in(key, i)` cost the same as one big draw (~2 ms: one extra hash per 32), so jaxbd keeps
them (results independent of `batch_size` and of the device count). The erf-inverse of the
normal transform is ~1.5 ms of the 2 ms, the model ~0.3 ms. The old module took 10.2 ms per
single `certify` (5.9 ms of it inside the jit) and 6.6 ms per point in `certify_batch`, against
~2.3-2.8 ms for the fused bound: the overhead was around the draws (a padded, masked last chunk
with two `where`-sums for CERTIFY's two draw sets; 4.5 ms for the counts at `batch_size` 4096
against 3.0 ms in one chunk; an eager `eval_shape` of the model per call; one `pure_callback`
per row for Clopper–Pearson). The package now sums the two draw sets in two scans with an
unpadded last chunk, checks the model's output only while tracing, and runs the bound on the
host once per call (once per batch in `certify_batch`). Dispatch and host statistics are now
~5 % of a single eager `certify` (cProfile: `prepare` + `certificate` ~2 ms of 40 calls' 955 ms).
Re-measured under heavy contention (load ~27 on the 2 cores, interleaved runs, best of 4):
old/new/fused `certify_batch` 45.5 / 28.8 / 25.5 ms per point (new = 1.13x the fused bound),
single `certify` old/new 59.9 / 45.5 ms. For the 784-d MLP, `certify_batch` was ~1.5x slower per point than a loop of single
`certify` calls (0.68x locuslab against 1.74x): rows went through `sharded_map`'s
`lax.map(batch_size=1)`, a `vmap` of one row, under which XLA:CPU evaluates each layer as
`weight @ noiseᵀ` (`f32[256, 4096]`, operands transposed; the single call computes
`f32[4096, 256]`). `certify_batch` now maps rows with a plain `lax.map` inside the same
`shard_map` (certificates unchanged: integer counts); under load ~21 that took the MLP batch from
1.61x to 2.53x locuslab in the same-run ratio (`jax.jit(...).compile().as_text()` shows the
dot shapes).

Quiet machine (load 1-2, two runs of 2026-12-01; the figures above were taken at load 16-27,
where torch degrades far more than XLA and the ratios were inflated up to 84x): locuslab takes
5.9-9.8 ms per linear point and 88-116 ms per MLP point, jaxbd's `certify_batch` 1.0-1.5x its
throughput at `batch_size` 4096 and 1.3-2.0x at 10,100 (linear), 1.0-1.6x (MLP); a single
`certify` call 0.7-1.7x (linear) and 0.8-1.0x (MLP). What bounds it is the noise: the fused
lower bound itself is only 1.3-3.4x (linear) and 1.0-1.3x (MLP)
locuslab. `noise_only_ms_per_point` times the draws alone (written out): `jr.normal` costs
1.1-3.3x `torch.randn` for the same draws, threefry's bits alone 0.7-2.4x, and for the MLP the
7.9 million normals per point are most of the work. The cost per draw of the 64-d noise also
steps down just above 2^18 values per chunk (3.6 ms per 10^4 draws at 4096 rows, 3.0 at
4097, 2.3 at 4500; our reading, not checked in XLA's source: XLA:CPU starts splitting the loop
over both cores there), which is why `batch_size` 10,100 is faster for the 64-d model. Counting labels by a scatter-add instead of summing a one-hot
block (0.7 ms of ~2.8 ms per point at 10^4 draws) is the one change this measurement led to.

Usage: `python benchmarks/bench_certify_locuslab.py [--quick] [--locuslab PATH/core.py]`;
writes `benchmarks/results/certify_locuslab.json`. `--batch-sizes 4096,10100` (default) runs
every measurement at each evaluation batch size, for both libraries. `--quick` (CI): 8 points,
n = 1,000, the linear model only, seconds.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from jaxbd import datasets, finetune, linear, smoothing


def _best(fn, repeats):
    """(first call incl. compilation, best of `repeats` runs) in seconds."""
    t = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return first, min(times)


# ----------------------------------------------------------------------------- models


def _digits(size: int):
    ds = datasets.load("digits")
    xs = []
    for x in (ds.x_train, ds.x_test):
        x = jnp.asarray(x, jnp.float32)
        if size != 8:  # bilinear upsampling of the 8x8 images
            img = jax.image.resize(x.reshape(-1, 8, 8), (x.shape[0], size, size), "bilinear")
            x = img.reshape(x.shape[0], -1)
        xs.append(x)
    return xs[0], jnp.asarray(ds.y_train), xs[1], jnp.asarray(ds.y_test)


def _mlp(key, x, y, steps):
    mlp = eqx.nn.MLP(x.shape[1], 10, 256, 2, activation=jax.nn.relu, key=key)
    return finetune.finetune(key, mlp, x, y, optimizer=optax.adam(1e-3), steps=steps)


def _torch_copy(model):
    """The same weights as a torch module on flattened inputs."""
    import torch

    if isinstance(model, linear.LinearClassifier):
        layers = [(model.weight, model.bias)]
    else:
        layers = [(lin.weight, lin.bias) for lin in model.layers]
    mods = [torch.nn.Flatten()]
    for j, (w, b) in enumerate(layers):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.asarray(w)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b)))
        mods += [lin] + ([torch.nn.ReLU()] if j < len(layers) - 1 else [])
    return torch.nn.Sequential(*mods).eval()


# ----------------------------------------------------------------------------- locuslab


def _load_locuslab(path):
    """Their `core.py` as a module, or `(None, reason)`."""
    if not path:
        return None, "no --locuslab PATH / $LOCUSLAB_SMOOTHING given (path of their code/core.py)"
    if not pathlib.Path(path).is_file():
        return None, f"{path} is not a file"
    for mod in ("torch", "statsmodels"):
        if importlib.util.find_spec(mod) is None:
            return None, f"{mod} is not installed (pip install {mod}; benchmark only)"
    import scipy.stats
    import torch

    if not hasattr(scipy.stats, "binom_test"):  # removed from SciPy; their PREDICT only
        scipy.stats.binom_test = lambda k, n, p=0.5: scipy.stats.binomtest(k, n, p).pvalue
    spec = importlib.util.spec_from_file_location("locuslab_core", path)
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    if not torch.cuda.is_available():  # their `randn_like(batch, device='cuda')`

        class _Torch:
            def __getattr__(self, name):
                return getattr(torch, name)

            @staticmethod
            def randn_like(t, device=None, **kw):
                return torch.randn_like(t, **kw)

        core.torch = _Torch()
    return core, None


def _locuslab_certify(core, tmodel, x, cfg, repeats):
    """Their CERTIFY on every point: (labels, radii, best seconds), after a warm-up call."""
    import torch

    smooth = core.Smooth(tmodel, 10, cfg["sigma"])
    xt = torch.from_numpy(np.asarray(x))[:, None, None]
    args = (cfg["n0"], cfg["n"], cfg["alpha"], cfg["batch_size"])
    smooth.certify(xt[0], *args)
    best = float("inf")
    for _ in range(repeats):
        torch.manual_seed(0)
        t = time.perf_counter()
        out = [smooth.certify(xi, *args) for xi in xt]
        best = min(best, time.perf_counter() - t)
    labels = np.asarray([-2 if c == core.Smooth.ABSTAIN else int(c) for c, _ in out])
    return labels, np.asarray([r for _, r in out], np.float64), best


# ----------------------------------------------------------------------------- one model


def _fused(model, cfg):
    """Sample + evaluate + count, nothing else: chunks of `batch_size` draws (as both libraries
    evaluate them), one `jr.normal` per chunk (no per-draw keys), no certificate, no checks."""
    draws, sigma, chunk = cfg["n0"] + cfg["n"], cfg["sigma"], cfg["batch_size"]
    full, rest = divmod(draws, chunk)

    def count(k, xi, size):
        noise = jr.normal(k, (size,) + xi.shape, xi.dtype)
        labels = jnp.argmax(jax.vmap(model)(xi + sigma * noise), -1)
        return jnp.zeros(10, jnp.int32).at[labels].add(1)  # a one-hot sum is slower on CPU

    def one(k, xi):
        step = lambda acc, c: (acc + count(jr.fold_in(k, c), xi, chunk), None)  # noqa: E731
        acc, _ = jax.lax.scan(step, jnp.zeros(10, jnp.int32), jnp.arange(full))
        return acc + count(jr.fold_in(k, full), xi, rest) if rest else acc

    batch = jax.jit(lambda k, xs: jax.lax.map(lambda a: one(*a), (jr.split(k, len(xs)), xs)))
    return batch, jax.jit(one)


def _measure(name, model, x, core, cfg, repeats):
    key = jr.key(1)
    kw = dict(
        sigma=cfg["sigma"],
        n0=cfg["n0"],
        num_samples=cfg["n"],
        alpha=cfg["alpha"],
        batch_size=cfg["batch_size"],
    )
    m = len(x)
    first_b, t_batch = _best(lambda: smoothing.certify_batch(key, model, x, **kw), repeats)
    labels, radii = (np.asarray(a) for a in smoothing.certify_batch(key, model, x, **kw))
    keys = [jr.fold_in(key, i) for i in range(m)]

    def singles():
        return [smoothing.certify(keys[i], model, x[i], **kw) for i in range(m)]

    first_s, t_single = _best(singles, repeats)
    fused_batch, fused_one = _fused(model, cfg)
    first_f, t_fused = _best(lambda: fused_batch(key, x), repeats)
    _, t_fused_one = _best(lambda: [fused_one(keys[i], x[i]) for i in range(m)], repeats)
    ms = lambda t: 1e3 * t / m  # noqa: E731
    res = {
        "points": m,
        "input_dim": int(x.shape[1]),
        "ms_per_point": {
            "jaxbd_certify_batch": ms(t_batch),
            "jaxbd_certify_single": ms(t_single),
            "fused_bound": ms(t_fused),
            "fused_bound_single": ms(t_fused_one),
        },
        "compile_seconds": {
            "jaxbd_certify_batch": first_b - t_batch,
            "jaxbd_certify_single": first_s - t_single,
            "fused_bound": first_f - t_fused,
        },
        "ratio_to_fused_bound": {
            "jaxbd_certify_batch": t_batch / t_fused,
            "jaxbd_certify_single": t_single / t_fused,
            "jaxbd_certify_single_vs_fused_single": t_single / t_fused_one,
        },
        "jaxbd_abstention_rate": float(np.mean(labels == smoothing.ABSTAIN)),
        "jaxbd_mean_radius_certified": _mean(radii[labels != smoothing.ABSTAIN]),
    }
    if core is None:
        return res
    lab_l, rad_l, t_l = _locuslab_certify(core, _torch_copy(model), x, cfg, repeats)
    both = (labels != smoothing.ABSTAIN) & (lab_l != -2)
    res["ms_per_point"]["locuslab"] = ms(t_l)
    res["throughput_vs_locuslab"] = {
        "jaxbd_certify_batch": t_l / t_batch,
        "jaxbd_certify_single": t_l / t_single,
        "fused_bound": t_l / t_fused,
    }
    res["agreement"] = {
        "both_certify": int(both.sum()),
        "same_label_where_both_certify": _mean(labels[both] == lab_l[both]),
        "locuslab_abstention_rate": float(np.mean(lab_l == -2)),
        "mean_abs_radius_difference": _mean(np.abs(radii[both] - rad_l[both])),
        "locuslab_mean_radius_certified": _mean(rad_l[lab_l != -2]),
    }
    print(name, json.dumps(res, indent=1), file=sys.stderr)
    return res


def _limits(x, cfg, repeats):
    """The noise alone, per point (`n0 + n` draws of `x.shape[1]` normals in chunks of
    `batch_size`), each chunk written out as an array: JAX's `jr.normal` (threefry bits and the
    inverse-erf transform), its raw threefry bits alone, and `torch.randn` (what locuslab
    draws), in ms."""
    d, chunk = int(x.shape[1]), cfg["batch_size"]
    sizes = [
        s for draws in (cfg["n0"], cfg["n"]) for s in [chunk] * (draws // chunk) + [draws % chunk]
    ]
    sizes = [s for s in sizes if s]  # the selection draws, then the estimation draws
    key = jr.key(0)
    out = {}
    for name, f in (
        ("jax_normal", lambda k, s: jr.normal(k, (s, d))),
        ("jax_threefry_bits", lambda k, s: jr.bits(k, (s, d))),
    ):
        fns = {s: jax.jit(lambda k, s=s, f=f: f(k, s)) for s in set(sizes)}
        _, t = _best(lambda fns=fns: [fns[s](key) for s in sizes], max(repeats, 5))
        out[name] = 1e3 * t
    if importlib.util.find_spec("torch") is not None:
        import torch

        best = float("inf")
        for _ in range(max(repeats, 5)):
            t = time.perf_counter()
            for s in sizes:
                torch.randn(s, d)
            best = min(best, time.perf_counter() - t)
        out["torch_randn"] = 1e3 * best
    return out


def _mean(a):
    return float(np.mean(a)) if np.size(a) else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--locuslab", default=os.environ.get("LOCUSLAB_SMOOTHING"))
    p.add_argument("--points", type=int, default=None)
    p.add_argument("--mlp-points", type=int, default=30)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--models", default="digits_linear,mlp784")
    p.add_argument(
        "--out", default=str(pathlib.Path(__file__).parent / "results" / "certify_locuslab.json")
    )
    p.add_argument(
        "--batch-sizes",
        default="4096,10100",
        help="comma-separated evaluation batch sizes, each run for both libraries",
    )
    args = p.parse_args()
    quick = args.quick
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    cfg = dict(sigma=0.5, n0=100, n=1_000 if quick else 10_000, alpha=0.001)
    points = args.points or (8 if quick else 120)
    repeats = args.repeats or (1 if quick else 2)
    core, skipped = _load_locuslab(args.locuslab)

    x_tr, y_tr, x_te, _ = _digits(8)
    models = {"digits_linear": (linear.train_linear(jr.key(0), x_tr, y_tr), x_te[:points])}
    if not quick and "mlp784" in args.models:
        x_tr, y_tr, x_te, _ = _digits(28)
        models["mlp784"] = (_mlp(jr.key(0), x_tr, y_tr, steps=300), x_te[: args.mlp_points])
    if "digits_linear" not in args.models:
        del models["digits_linear"]
    result = {
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "jax": jax.__version__,
        "quick": quick,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "config": dict(cfg, batch_sizes=batch_sizes),
        "locuslab": "measured" if core is not None else f"skipped: {skipped}",
        "models": {
            "digits_linear": "10-class softmax regression of sklearn digits (8x8, d = 64)",
            "mlp784": "784-256-256-10 ReLU MLP on digits upsampled to 28x28 (d = 784)",
        },
        "goal": ">= 2x locuslab's per-point throughput, within 1.3x of the fused bound",
    }
    for name, (model, x) in models.items():
        result[name] = {}
        for bs in batch_sizes:
            c = dict(cfg, batch_size=bs)
            result[name][f"batch_size_{bs}"] = _measure(name, model, x, core, c, repeats)
            result[name][f"batch_size_{bs}"]["noise_only_ms_per_point"] = _limits(x, c, repeats)
    result["load_average_at_end"] = os.getloadavg()[0]
    if core is not None:
        import torch

        result["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
    text = json.dumps(result, indent=2)
    print(text)
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
