"""`jaxbd reproduce | run | list`: the registered experiments and their report.

`jaxbd.experiments` and `jaxbd.report` (matplotlib) are imported only by these commands.
"""

import os
import sys
import traceback
import warnings

from . import _distributed
from ._args import SEED, command
from ._errors import RunFailure, UsageError, innermost
from ._files import check_out_dir


_REPRODUCE_HELP = "run every registered experiment and write a report"

_REPRODUCE_DESCRIPTION = (
    "Run every registered experiment on bundled data and write "
    "REPORT.md, results.json and PNG plots."
)

_REPRODUCE_EXAMPLES = (
    "jaxbd reproduce --quick --out report",
    "jaxbd reproduce --quick --distributed  # one process of a SLURM / Kubernetes job",
)

_RUN_HELP = "run one experiment"

_RUN_DESCRIPTION = "Run one experiment and write its report."

_RUN_EXAMPLES = ("jaxbd run rff --quick",)

_LIST_HELP = "list registered experiments"

_LIST_DESCRIPTION = "List the registered experiments."

_LIST_EXAMPLES = ("jaxbd list",)


def add_parsers(sub) -> None:
    p = command(sub, "reproduce", _REPRODUCE_HELP, _REPRODUCE_DESCRIPTION, _REPRODUCE_EXAMPLES)
    p.add_argument(
        "--quick", action="store_true", help="smoke-sized run (a few minutes on 2 cores)"
    )
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    r = command(sub, "run", _RUN_HELP, _RUN_DESCRIPTION, _RUN_EXAMPLES)
    r.add_argument("name", help="experiment name (see 'jaxbd list')")
    r.add_argument("--quick", action="store_true", help="smoke-sized run")
    for q in (p, r):
        q.add_argument("--out", default="report", help="output folder")
        q.add_argument("--seed", type=SEED, default=0, help="base seed")
        q.add_argument("--no-progress", action="store_true", help="hide progress bars")
        q.add_argument(
            "--xla-optimize",
            action="store_true",
            help="with --quick: keep XLA's full optimisation (by default a quick run compiles "
            "with most optimisations off: compilation is most of its time)",
        )
        _distributed.add_flags(q)
    command(sub, "list", _LIST_HELP, _LIST_DESCRIPTION, _LIST_EXAMPLES)  # fmt: skip


def run_list(args) -> int:
    from .. import experiments

    for name, exp in experiments.registry().items():
        print(f"{name:22s} {exp.title}\n{'':22s} {exp.description}")
    return 0


def run_experiments(args) -> int:
    names = (args.only or None) if args.command == "reproduce" else [args.name]
    process, _ = _distributed.initialize(args)  # before any JAX work
    if args.quick and not args.xla_optimize:
        _fast_compile()
    return _run(names, quick=args.quick, seed=args.seed, out=args.out,
                progress=not args.no_progress and process == 0, debug=args.debug,
                writer=process == 0)  # fmt: skip


def _fast_compile() -> None:
    """A quick run's programs are small and run once or twice, so XLA's optimisation passes
    cost more than they save: `jax_disable_most_optimizations` took `reproduce --quick` from
    255 s to 183 s on 2 idle cores, with the same claims holding. A value the user set in
    `$JAX_DISABLE_MOST_OPTIMIZATIONS` wins."""
    if "JAX_DISABLE_MOST_OPTIMIZATIONS" in os.environ:
        return
    import jax

    jax.config.update("jax_disable_most_optimizations", True)


def _say(writer: bool, *text, **kw) -> None:
    if writer:  # one log, from the process that writes the report
        print(*text, **kw)


def _run_one(experiments, exp, name, ctx, debug, writer=True):
    from ..detect.regime import DetectableRegimeWarning

    try:
        with warnings.catch_warnings():
            # Experiments sweep through detectable regimes on purpose; the detection
            # experiment reports which distinguisher finds what.
            warnings.simplefilter("ignore", DetectableRegimeWarning)
            return exp.run(ctx), False
    except Exception as e:
        res = experiments.ExperimentResult(
            name=name, title=exp.title, summary=exp.description, error=traceback.format_exc()
        )
        if debug:
            print(res.error, file=sys.stderr)
        kind, msg = innermost(e)
        _say(writer, f"[jaxbd] {name} failed: {kind}: {msg} (traceback in the report)",
             file=sys.stderr, flush=True)  # fmt: skip
        return res, True


def _run(
    names, *, quick: bool, seed: int, out: str, progress: bool, debug: bool = False,
    writer: bool = True,
) -> int:  # fmt: skip
    """Run `names` (all when None); `writer`: this process writes the report (process 0 of a
    `--distributed` run; the others compute their shards of the same experiments)."""
    from .. import experiments
    from ..report import write_report

    reg = experiments.registry()
    names = list(reg) if names is None else names
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise UsageError(
            f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(reg)} "
            "(see 'jaxbd list')."
        )
    if writer:
        check_out_dir(out)
    ctx = experiments.Context(quick=quick, seed=seed, show_progress=progress)
    results, failed = [], []
    for name in names:
        _say(writer, f"[jaxbd] running {name}{' (quick)' if quick else ''} ...",
             file=sys.stderr, flush=True)  # fmt: skip
        res, bad = _run_one(experiments, reg[name], name, ctx, debug, writer)
        if bad:
            failed.append(name)
        else:
            held = sum(c.holds is True for c in res.claims)
            _say(writer, f"[jaxbd] {name}: {held}/{len(res.claims)} claims hold, "
                 f"{res.seconds:.1f} s", file=sys.stderr)  # fmt: skip
        results.append(res)
    if not writer:
        print(f"[jaxbd] process {_process()}: computed its shards; process 0 writes the report",
              file=sys.stderr)  # fmt: skip
        return 1 if failed else 0
    try:
        paths = write_report(results, out, quick=quick)
    except OSError as e:
        raise RunFailure(f"--out {out!r}: cannot write the report ({e})") from e
    print(f"report: {paths['markdown']}")
    print(f"results: {paths['json']}")
    print(f"figures: {len(paths['figures'])} PNG file(s) in {out}")
    if failed:
        raise RunFailure(f"experiment(s) failed: {', '.join(failed)} (see {paths['markdown']})")
    return 0


def _process() -> int:
    import jax

    return jax.process_index()
