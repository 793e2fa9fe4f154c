"""The `jaxbd` command: `reproduce`, `list`, `run`, and the workflow `plant`, `activate`,
`evaluate`, `finetune` (see `jaxbd/_cli_workflow.py`).

Exit codes: 0 success; 1 an experiment (or a workflow command) failed at run time (the report is
still written and names it); 2 bad usage or bad input (unknown experiment, bad arguments, a
missing or malformed file: a one-line message, no traceback).
"""

import argparse
import sys
import traceback
import warnings


def _run_experiments(names, *, quick: bool, seed: int, out: str, progress: bool) -> int:
    from . import experiments
    from .detect.regime import DetectableRegimeWarning
    from .report import write_report

    reg = experiments.registry()
    unknown = [n for n in names if n not in reg]
    if unknown:
        print(
            f"jaxbd: unknown experiment(s) {', '.join(unknown)}; known: {', '.join(reg)}",
            file=sys.stderr,
        )
        return 2
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
        except Exception:
            failed.append(name)
            res = experiments.ExperimentResult(
                name=name, title=exp.title, summary=exp.description, error=traceback.format_exc()
            )
            print(res.error, file=sys.stderr)
        else:
            held = sum(c.holds is True for c in res.claims)
            print(
                f"[jaxbd] {name}: {held}/{len(res.claims)} claims hold, {res.seconds:.1f} s",
                file=sys.stderr,
            )
        results.append(res)
    paths = write_report(results, out, quick=quick)
    print(f"report: {paths['markdown']}")
    print(f"results: {paths['json']}")
    print(f"figures: {len(paths['figures'])} PNG file(s) in {out}")
    if failed:
        print(f"jaxbd: experiment(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="jaxbd",
        description="Provable backdoors in ML: plant, activate, detect, remove, reproduce.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "reproduce",
        help="run every registered experiment and write a report",
        description="Run every registered experiment on bundled data and write "
        "REPORT.md, results.json and PNG plots.\n\nexample: jaxbd reproduce --quick --out report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="smoke-sized run (about 2 min on 2 cores)")
    p.add_argument("--out", default="report", help="output folder (default: report)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    sub.add_parser("list", help="list registered experiments")

    r = sub.add_parser(
        "run",
        help="run one experiment",
        description="Run one experiment and write its report.\n\nexample: jaxbd run rff --quick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("name")
    r.add_argument("--quick", action="store_true")
    r.add_argument("--out", default="report")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--no-progress", action="store_true")

    from . import _cli_workflow

    _cli_workflow.add_subcommands(sub)

    args = parser.parse_args(argv)
    if args.command in _cli_workflow.COMMANDS:
        return _cli_workflow.run_command(args)
    from . import experiments

    if args.command == "list":
        for name, exp in experiments.registry().items():
            print(f"{name:22s} {exp.title}\n{'':22s} {exp.description}")
        return 0
    if args.command == "reproduce":
        names = args.only or list(experiments.registry())
    else:
        names = [args.name]
    return _run_experiments(
        names, quick=args.quick, seed=args.seed, out=args.out, progress=not args.no_progress
    )


if __name__ == "__main__":
    sys.exit(main())
