r"""Scaling: time and compiled peak memory of the large computations (issue 8).

Log-log curves of wall time and of XLA's *compiled* memory (`jax.jit(f).lower(...).compile()
.memory_analysis()`: temporary buffers, outputs) against the problem size:

- RFF featurization `RFFClassifier.batch_features` (GKVZ §6, Alg. 1) against the number of
  inputs `n`, the input dimension `D` and the width `m`: one `(n, D) x (D, m)` matmul, so its
  memory is its `(n, m)` output — linear in `n` and in `m`;
- randomized-smoothing counts `smoothing.class_counts` (Cohen et al. §3.2, PREDICT/CERTIFY)
  against the number of noise draws: draws are evaluated `batch_size` at a time inside
  `lax.scan`, so the compiled memory stops growing once `num_samples >= batch_size`.

Compiled memory is deterministic (no timing noise) and works on every backend, so the claims are
about MEMORY only; timings are shown but nothing is asserted about them (shared machines are
noisy). "Peak" here means XLA's buffer-assignment total `temp + output` (arguments excluded: they
are the caller's), the memory the computation itself allocates.
"""

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import NullFormatter

from jaxbd import rff, smoothing
from jaxbd.experiments import (
    AtMost,
    Claim,
    Context,
    ExperimentResult,
    Figure,
    Table,
    Within,
    exact,
    register,
)


__all__ = [
    "compiled_memory", "memory_and_time", "memory_compile_and_time", "min_time", "rff_model",
    "loglog_slope", "run",
]  # fmt: skip

SLOPE_TOL = 0.1  # RFF memory: fitted log-log slope in n within 1 ± SLOPE_TOL
FLAT_TOL = 0.10  # smoothing memory: max/min over num_samples >= batch_size within 1 + FLAT_TOL
SMOOTH_BATCH = 4096


def _memory(compiled) -> dict[str, int]:
    stats = compiled.memory_analysis()
    if stats is None:
        raise ValueError("this backend reports no `memory_analysis()` for compiled code.")
    temp = int(stats.temp_size_in_bytes)
    out = int(stats.output_size_in_bytes)
    return {
        "temp": temp,
        "output": out,
        "argument": int(stats.argument_size_in_bytes),
        "alias": int(stats.alias_size_in_bytes),
        "code": int(stats.generated_code_size_in_bytes),
        "peak": temp + out,
    }


def compiled_memory(fn: Callable, *args) -> dict[str, int]:
    """Compiled memory (bytes) of `jax.jit(fn)(*args)` from XLA's buffer assignment.

    **Returns:** dict with `temp`, `output`, `argument`, `alias`, `code` (generated code) and
    `peak = temp + output` (what the computation allocates besides its inputs). Values are
    deterministic for a given backend and shapes; nothing is executed. Raises ValueError if the
    backend reports no memory analysis.
    """
    return _memory(jax.jit(fn).lower(*args).compile())


def memory_and_time(fn: Callable, *args, repeats: int = 3, timed: bool = True):
    """Compile `jax.jit(fn)` for `args` once; return `(compiled_memory dict, min seconds)`
    (seconds NaN when `timed` is False: the computation is then never executed)."""
    mem, sec, _ = memory_compile_and_time(fn, *args, repeats=repeats, timed=timed)
    return mem, sec


def memory_compile_and_time(fn: Callable, *args, repeats: int = 3, timed: bool = True):
    """As [`memory_and_time`][], with the compile time: `(memory dict, min run seconds,
    compile seconds)` — tracing, lowering and XLA compilation of `jax.jit(fn)` for `args`,
    separate from the run time (a one-off call costs both)."""
    t = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t
    mem = _memory(compiled)
    if not timed:
        return mem, float("nan"), compile_s
    return mem, _min_run(compiled, args, repeats), compile_s


def min_time(fn: Callable, *args, repeats: int = 3) -> float:
    """Minimum wall time (seconds) of `jax.jit(fn)(*args)` over `repeats` runs after one
    warm-up (compile) run, with `jax.block_until_ready`."""
    return _min_run(jax.jit(fn), args, repeats)


def _min_run(f: Callable, args: tuple, repeats: int) -> float:
    """Minimum wall time of `f(*args)` over `repeats` runs after one warm-up run."""
    jax.block_until_ready(f(*args))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        best = min(best, time.perf_counter() - t)
    return best


def rff_model(seed: int, width: int, dim: int) -> rff.RFFClassifier:
    """A random binary float32 `RFFClassifier` (Gaussian frequencies, uniform phases, Gaussian
    head), drawn host-side with numpy (`seed`) so building one compiles nothing."""
    rng = np.random.default_rng(seed)
    return rff.RFFClassifier(
        frequencies=jnp.asarray(rng.standard_normal((width, dim), np.float32)),
        phases=jnp.asarray(rng.random(width, np.float32)),
        head=jnp.asarray(rng.standard_normal(width, np.float32) / np.float32(np.sqrt(width))),
        bandwidth=float(np.sqrt(dim)),
    )


def _inputs(seed: int, shape) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape, np.float32))


def loglog_slope(x, y) -> float:
    """Least-squares slope of `log y` against `log x`."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def _rff_point(seed, n, dim, width, repeats):
    model = rff_model(seed, width, dim)
    x = _inputs(seed + 1, (n, dim))
    f = lambda m, x: m.batch_features(x)  # noqa: E731
    mem, sec, comp = memory_compile_and_time(f, model, x, repeats=repeats)
    return {"n": n, "dim": dim, "width": width, "seconds": sec, "compile_seconds": comp}, mem


def rff_sweep(seed: int, *, ns, dims, widths, base, repeats=3) -> list[dict]:
    """Time and compiled memory of `batch_features` along `n`, `dim` and `width` (the others
    at `base = (n, dim, width)`)."""
    rows = []
    for axis, values in (("n", ns), ("dim", dims), ("width", widths)):
        for v in values:
            cfg: dict[str, int] = dict(zip(("n", "dim", "width"), base))
            cfg[axis] = int(v)
            row, mem = _rff_point(seed, cfg["n"], cfg["dim"], cfg["width"], repeats)
            rows.append({"sweep": axis, **row, **{f"mem_{k}": v for k, v in mem.items()}})
    return rows


def smoothing_sweep(
    seed: int, *, draws, width=64, dim=16, batch_size=SMOOTH_BATCH, repeats=1, time_up_to=None
) -> list[dict]:
    """Time and compiled memory of `smoothing.class_counts` (one input, `sigma=0.5`) for each
    number of draws; timed only up to `time_up_to` draws (NaN above)."""
    model = rff_model(seed, width, dim)
    x = _inputs(seed + 2, (dim,))
    k = jr.key(seed)
    rows = []
    for n in draws:
        n = int(n)

        def f(k, x, n=n):
            return smoothing.class_counts(
                k, model, x, sigma=0.5, num_samples=n, batch_size=batch_size
            )

        timed = time_up_to is None or n <= time_up_to
        mem, sec, comp = memory_compile_and_time(f, k, x, repeats=repeats, timed=timed)
        rows.append({"num_samples": n, "seconds": sec, "compile_seconds": comp,
                     **{f"mem_{a}": b for a, b in mem.items()}})  # fmt: skip
    return rows


def _figure(rff_rows, sm_rows) -> MplFigure:
    fig = MplFigure(figsize=(12, 7), layout="tight")
    axes = fig.subplots(2, 4)
    for j, axis in enumerate(("n", "dim", "width")):
        rows = [r for r in rff_rows if r["sweep"] == axis]
        xs = [r[axis] for r in rows]
        axes[0, j].loglog(xs, [r["seconds"] for r in rows], "o-")
        axes[0, j].set_title(f"RFF batch_features: time vs {axis}")
        axes[1, j].loglog(xs, [r["mem_peak"] for r in rows], "o-", label="temp + output")
        axes[1, j].loglog(xs, [max(r["mem_temp"], 1) for r in rows], "s--", label="temp")
        axes[1, j].set_title(f"compiled memory vs {axis}")
        axes[1, j].set_xlabel(axis)
        axes[1, j].legend(fontsize=7)
    axes[0, 0].set_ylabel("seconds (min)")
    axes[1, 0].set_ylabel("bytes")
    xs = [r["num_samples"] for r in sm_rows]
    ts = [(a, r["seconds"]) for a, r in zip(xs, sm_rows) if np.isfinite(r["seconds"])]
    axes[0, 3].loglog([a for a, _ in ts], [b for _, b in ts], "o-")
    axes[0, 3].set_title("class_counts: time vs draws")
    axes[1, 3].loglog(xs, [r["mem_peak"] for r in sm_rows], "o-", label="temp + output")
    axes[1, 3].set_title("compiled memory vs draws")
    axes[1, 3].set_xlabel("num_samples")
    axes[1, 3].set_ylim(1e3, 1e8)
    axes[1, 3].legend(fontsize=7)
    for ax in axes.ravel():
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    return fig


@register(
    "scaling",
    title="Scaling: time and compiled memory vs problem size",
    description="Log-log time and XLA compiled memory of RFF featurization (n, D, width) and of "
    "randomized-smoothing counts (num_samples): memory linear in n, flat in the number of draws.",
    order=95,
)
def run(ctx: Context) -> ExperimentResult:
    if ctx.quick:
        ns, dims, widths, base = [256, 1024, 4096], [16, 64], [128, 512], (1024, 32, 256)
        draws, time_up_to = [10**3, 10**4, 10**6], 10**4
    else:
        ns, dims = [256, 1024, 4096, 16384], [16, 64, 256]
        widths, base = [128, 512, 2048], (2048, 64, 512)
        draws, time_up_to = [10**3, 10**4, 10**5, 10**6, 10**7], 10**5
    rff_rows = rff_sweep(ctx.seed, ns=ns, dims=dims, widths=widths, base=base)
    sm_rows = smoothing_sweep(ctx.seed, draws=draws, time_up_to=time_up_to)

    n_rows = [r for r in rff_rows if r["sweep"] == "n"]
    slope = loglog_slope([r["n"] for r in n_rows], [r["mem_peak"] for r in n_rows])
    big = [r["mem_peak"] for r in sm_rows if r["num_samples"] >= SMOOTH_BATCH]
    ratio = max(big) / min(big)
    claims = [
        Claim(
            "RFF featurization's compiled memory (temp + output) grows linearly in the number of "
            "inputs n (its (n, width) output; no hidden quadratic buffer).",
            "GKVZ §6 Alg. 1 (featurization); issue 8",
            exact(slope),
            Within(1.0, SLOPE_TOL),
            f"n = {ns[0]}..{ns[-1]}; XLA's buffer assignment, deterministic",
            what="log-log slope of memory in n",
        ),
        Claim(
            "Randomized-smoothing counts are chunked: compiled memory does not grow with the "
            "number of noise draws once it exceeds one batch.",
            "Cohen et al. §3.2 (PREDICT/CERTIFY); issue 8",
            exact(ratio),
            AtMost(1.0 + FLAT_TOL),
            f"num_samples = {SMOOTH_BATCH}..{draws[-1]} (batch_size {SMOOTH_BATCH}; peak "
            f"{max(big) / 1e6:.2f} MB)",
            what="max/min temp + output",
        ),
    ]
    mb = lambda b: f"{b / 1e6:.3f}"  # noqa: E731
    tables = [
        Table(
            title="RFF batch_features (float32): time and compiled memory",
            columns=[
                "sweep",
                "n",
                "D",
                "width",
                "time (ms, min)",
                "compile (ms)",
                "temp (MB)",
                "output (MB)",
            ],  # fmt: skip
            rows=[
                [
                    r["sweep"],
                    r["n"],
                    r["dim"],
                    r["width"],
                    f"{1e3 * r['seconds']:.3f}",
                    f"{1e3 * r['compile_seconds']:.1f}",
                    mb(r["mem_temp"]),
                    mb(r["mem_output"]),
                ]
                for r in rff_rows
            ],
            note="Timings are indicative only (no claim is made about time); compile: tracing, "
            "lowering and XLA compilation, paid once per shape, apart from the run time.",
        ),
        Table(
            title=f"smoothing.class_counts (RFF model, batch_size {SMOOTH_BATCH})",
            columns=["num_samples", "time (s, min)", "compile (s)", "temp (MB)", "output (MB)"],
            rows=[
                [
                    r["num_samples"],
                    "—" if not np.isfinite(r["seconds"]) else f"{r['seconds']:.4f}",
                    f"{r['compile_seconds']:.3f}",
                    mb(r["mem_temp"]),
                    mb(r["mem_output"]),
                ]
                for r in sm_rows
            ],
            note="Memory from the compiled computation (not executed for the untimed sizes).",
        ),
    ]
    figures = [
        Figure(
            "scaling_loglog.png",
            "Top: minimum wall time; bottom: XLA compiled memory (temp + output), log-log. "
            "Columns: RFF featurization vs n, D, width; smoothing counts vs num_samples.",
            _figure(rff_rows, sm_rows),
        )
    ]
    summary = (
        f"RFF featurization memory grows with slope {slope:.2f} in n (its output); "
        f"smoothing counts use {max(big) / 1e6:.2f} MB whatever the number of draws "
        f"(max/min {ratio:.3f} from {SMOOTH_BATCH} to {draws[-1]:.0e})."
    )
    return ExperimentResult(
        summary=summary,
        claims=claims,
        tables=tables,
        figures=figures,
        data={
            "backend": jax.default_backend(),
            "rff": rff_rows,
            "smoothing": sm_rows,
            "rff_memory_slope": slope,
            "smoothing_memory_ratio": ratio,
        },
    )
