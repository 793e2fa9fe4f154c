"""The `jaxbd` command: `reproduce`, `list`, `run`, and the workflow `plant`, `activate`,
`evaluate`, `finetune`, `detect`, `certify` (see `jaxbd/_cli_workflow.py`).

Exit codes: 0 success; 1 a run-time failure (an experiment or a workflow command failed: the
report is still written and names it); 2 bad usage or bad input (unknown experiment, a bad flag
value, a missing or malformed file, a model and a key that do not belong together). Every error
is one line on stderr naming the flag or file; `jaxbd --debug ...` adds the traceback.
"""

import os
import sys
import traceback
import warnings

from . import _cli_workflow as wf, constructions


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line each: `[jaxbd] warning: Category: message`."""
    out = file if file is not None else sys.stderr
    try:
        print(f"[jaxbd] warning: {category.__name__}: {wf.squash(message)}", file=out, flush=True)
    except OSError:
        pass


def _check_report_dir(out: str) -> None:
    if os.path.exists(out) and not os.path.isdir(out):
        raise wf.UsageError(f"--out {out!r}: exists and is not a directory.")


def _run_experiments(
    names, *, quick: bool, seed: int, out: str, progress: bool, debug: bool = False
) -> int:
    from . import experiments
    from .detect.regime import DetectableRegimeWarning
    from .report import write_report

    reg = experiments.registry()
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise wf.UsageError(
            f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(reg)} "
            "(see 'jaxbd list')."
        )
    _check_report_dir(out)
    ctx = experiments.Context(quick=quick, seed=seed, show_progress=progress)
    results, failed = [], []
    for name in names:
        exp = reg[name]
        print(
            f"[jaxbd] running {name}{' (quick)' if quick else ''} ...", file=sys.stderr, flush=True
        )
        try:
            with warnings.catch_warnings():
                # Experiments sweep through detectable regimes on purpose; the detection
                # experiment reports which distinguisher finds what.
                warnings.simplefilter("ignore", DetectableRegimeWarning)
                res = exp.run(ctx)
        except Exception as e:
            failed.append(name)
            res = experiments.ExperimentResult(
                name=name, title=exp.title, summary=exp.description, error=traceback.format_exc()
            )
            if debug:
                print(res.error, file=sys.stderr)
            kind, msg = wf.innermost(e)
            print(
                f"[jaxbd] {name} failed: {kind}: {msg} (traceback in the report)",
                file=sys.stderr,
                flush=True,
            )
        else:
            held = sum(c.holds is True for c in res.claims)
            print(
                f"[jaxbd] {name}: {held}/{len(res.claims)} claims hold, {res.seconds:.1f} s",
                file=sys.stderr,
            )
        results.append(res)
    try:
        paths = write_report(results, out, quick=quick)
    except OSError as e:
        raise wf.RunFailure(f"--out {out!r}: cannot write the report ({e})") from e
    print(f"report: {paths['markdown']}")
    print(f"results: {paths['json']}")
    print(f"figures: {len(paths['figures'])} PNG file(s) in {out}")
    if failed:
        raise wf.RunFailure(f"experiment(s) failed: {', '.join(failed)} (see {paths['markdown']})")
    return 0


def build_parser() -> wf.ArgumentParser:
    """The `jaxbd` argument parser (one-line usage errors, defaults shown in every --help)."""
    parser = wf.ArgumentParser(
        prog="jaxbd",
        description="Provable backdoors in ML: plant, activate, detect, remove, reproduce.",
        epilog=wf._EPILOG,
        formatter_class=wf.HelpFormatter,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, print the traceback too (also accepted after the subcommand)",
    )
    parser.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not use JAX's persistent compilation cache (default: on, in $JAXBD_CACHE_DIR or "
        "~/.cache/jaxbd/xla; JAXBD_NO_COMPILE_CACHE=1 turns it off too)",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import a module (name or .py file) that registers constructions with "
        "jaxbd.constructions.register, before the commands are built (repeatable); installed "
        "packages can instead declare an entry point in the group 'jaxbd.constructions'",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "reproduce",
        help="run every registered experiment and write a report",
        description="Run every registered experiment on bundled data and write "
        "REPORT.md, results.json and PNG plots.\n\nexample: jaxbd reproduce --quick --out report",
        formatter_class=wf.HelpFormatter,
        epilog=wf._EPILOG,
    )
    p.add_argument("--quick", action="store_true", help="smoke-sized run (about 3 min on 2 cores)")
    p.add_argument("--out", default="report", help="output folder")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    p.add_argument("--seed", type=wf.SEED, default=0, help="base seed")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    wf.add_debug_flag(p)

    lst = sub.add_parser(
        "list", help="list registered experiments", formatter_class=wf.HelpFormatter
    )
    wf.add_debug_flag(lst)

    r = sub.add_parser(
        "run",
        help="run one experiment",
        description="Run one experiment and write its report.\n\nexample: jaxbd run rff --quick",
        formatter_class=wf.HelpFormatter,
        epilog=wf._EPILOG,
    )
    r.add_argument("name", help="experiment name (see 'jaxbd list')")
    r.add_argument("--quick", action="store_true", help="smoke-sized run")
    r.add_argument("--out", default="report", help="output folder")
    r.add_argument("--seed", type=wf.SEED, default=0, help="base seed")
    r.add_argument("--no-progress", action="store_true", help="hide progress bars")
    wf.add_debug_flag(r)

    wf.add_subcommands(sub)
    return parser


def _dispatch(args) -> int:
    from . import experiments

    if args.command == "list":
        for name, exp in experiments.registry().items():
            print(f"{name:22s} {exp.title}\n{'':22s} {exp.description}")
        return 0
    names = (
        (args.only or list(experiments.registry())) if args.command == "reproduce" else [args.name]
    )
    return _run_experiments(
        names,
        quick=args.quick,
        seed=args.seed,
        out=args.out,
        progress=not args.no_progress,
        debug=args.debug,
    )


def _enable_compile_cache() -> None:
    """JAX's persistent compilation cache: a later CLI step reuses the XLA programs an earlier
    one compiled (most of a step's time on digits is compilation)."""
    if os.environ.get("JAXBD_NO_COMPILE_CACHE", "") not in ("", "0"):
        return
    import jax

    if jax.config.jax_compilation_cache_dir:  # the user configured one already
        return
    path = os.environ.get("JAXBD_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "jaxbd", "xla"
    )
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return  # no writable cache directory: run uncached
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def main(argv=None) -> int:
    """Run `jaxbd ARGV`; returns the exit code (argparse's own usage errors and `--help` raise
    `SystemExit`, code 2 and 0)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    plugins = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--plugin"]
    plugins += [a.split("=", 1)[1] for a in argv if a.startswith("--plugin=")]
    try:
        constructions.load_plugins(plugins)  # before the parser: plugins add commands' choices
    except Exception as e:  # noqa: BLE001 - a plugin that fails to import is bad usage
        print(f"jaxbd: error: --plugin: {type(e).__name__}: {wf.squash(e)}", file=sys.stderr)
        return wf.EXIT_USAGE
    args = build_parser().parse_args(argv)
    if not args.no_compile_cache:
        _enable_compile_cache()
    args.debug = bool(args.debug or os.environ.get("JAXBD_TRACEBACK"))
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        if args.command in wf.COMMANDS:
            return wf.run_command(args)
        with wf.quiet_callbacks(not args.debug):
            try:
                return _dispatch(args)
            except (Exception, KeyboardInterrupt) as e:
                return wf.report_error(e, args.command, args=args, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
