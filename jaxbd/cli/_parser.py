"""The `jaxbd` argument parser and the table of commands (no if-chain: a command is a parser
builder and a `run(args) -> exit code`)."""

from . import _activate, _certify, _detect, _evaluate, _finetune, _plant, _reproduce
from ._args import EPILOG, ArgumentParser, HelpFormatter


# command -> run(args); the parsers are built by the same modules, in this order.
COMMANDS = {
    "reproduce": _reproduce.run_experiments,
    "run": _reproduce.run_experiments,
    "list": _reproduce.run_list,
    "plant": _plant.run,
    "activate": _activate.run,
    "evaluate": _evaluate.run,
    "finetune": _finetune.run,
    "detect": _detect.run,
    "certify": _certify.run,
}
_PARSERS = (_reproduce.add_parsers, _plant.add_parser, _activate.add_parser,
            _evaluate.add_parser, _finetune.add_parser, _detect.add_parser, _certify.add_parser)  # fmt: skip


def build_parser() -> ArgumentParser:
    """The `jaxbd` argument parser (one-line usage errors, defaults shown in every --help)."""
    parser = ArgumentParser(
        prog="jaxbd",
        description="Provable backdoors in ML: plant, activate, detect, remove, reproduce.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
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
        "jaxbd.constructions.register (or distinguishers with jaxbd.detect.register), before "
        "the commands are built (repeatable); installed packages can instead declare an entry "
        "point in the group 'jaxbd.constructions'",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in _PARSERS:
        add(sub)
    return parser
