"""Flag types, the help formatter, and the flags several commands share."""

import argparse
import math

from .. import _validate, datasets
from ._errors import EXIT_USAGE


EPILOG = (
    "exit codes: 0 success, 1 run-time failure, 2 bad usage or bad input (one line on stderr "
    "naming the flag or file; add --debug for the traceback)."
)


def number(kind: type = float, *, low=None, high=None, low_open=False, high_open=False):
    """An argparse `type=` for a finite `int` or `float` in a range (checked by
    `jaxbd._validate.check_range`); argparse prefixes the error with `argument --flag:`."""
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high}")
    what = ("an integer" if kind is int else "a finite number") + "".join(
        f" {b}" if i == 0 else f" and {b}" for i, b in enumerate(bounds)
    )
    lo, hi = (None if b is None else float(b) for b in (low, high))  # check_range takes floats

    def parse(token: str):
        try:
            v = kind(token)
            _validate.check_range(v, "value", low=lo, high=hi, low_open=low_open,
                                  high_open=high_open)  # fmt: skip
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {what}, got {token!r}") from None
        return v

    parse.__name__ = kind.__name__
    return parse


def label(token: str):
    """An argparse `type=` for one class label: a finite number (`int` when integral)."""
    try:
        v = float(token)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a class label (a number: +1/-1 or 0..c-1), got {token!r}"
        ) from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite class label, got {token!r}")
    return int(v) if v.is_integer() else v


POSITIVE_INT = number(int, low=1)
NONNEG_INT = number(int, low=0)
POSITIVE = number(float, low=0, low_open=True)
NONNEG = number(float, low=0)
SEED = number(int, low=0, high=2**32 - 1)
PROBABILITY = number(float, low=0, high=1, low_open=True, high_open=True)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' line breaks and shows every option's default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            not action.option_strings
            or action.default is None
            or action.default is False
            or action.default is argparse.SUPPRESS
            or "default" in text.lower()
        ):
            return text
        return f"{text} (default: %(default)s)".strip()


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit code 2), naming the flag."""

    def error(self, message):
        msg = " ".join(str(message).split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {msg} (see '{self.prog} --help')\n")


def add_debug_flag(p) -> None:
    """`--debug` after the subcommand too (`jaxbd plant ... --debug`)."""
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on an error, print the traceback too",
    )


def command(sub, name: str, help: str, description: str, examples: tuple[str, ...] = ()):
    """A subcommand parser: defaults shown, examples and exit codes in its --help, `--debug`."""
    text = description
    if examples:
        text += f"\n\nexample{'s' if len(examples) > 1 else ''}:\n" + "\n".join(
            f"  {e}" for e in examples
        )
    p = sub.add_parser(name, help=help, description=text, formatter_class=HelpFormatter,
                       epilog=EPILOG)  # fmt: skip
    add_debug_flag(p)
    return p


def add_data_args(p, *, required: bool) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        required=required,
        metavar="NAME|PATH",
        help=f"bundled dataset ({', '.join(datasets.NAMES)}), a .npz with arrays x, y "
        "(optionally x_test, y_test), or an IDX images file (with --labels)",
    )
    g.add_argument("--labels", metavar="IDX", help="IDX labels file for IDX images")
    g.add_argument("--classes", nargs="+", metavar="C", help="keep these labels (in order)")
    g.add_argument("--split-seed", type=SEED, default=0, help="train/test split seed")
    g.add_argument(
        "--test-fraction", type=PROBABILITY, default=0.25, help="held-out fraction, in (0, 1)"
    )
    g.add_argument(
        "--normalize",
        choices=("standardize", "unit_norm", "unit_interval", "none"),
        help="default: the construction's (standardize; unit_norm for relu, unit_interval for "
        "lattice-signature), or the model's recorded one",
    )


def add_seed(p, what: str) -> None:
    p.add_argument("--seed", type=SEED, default=0, help=f"seed of {what}")


def add_max_examples(p, what: str = "use the first N >= 1 held-out examples") -> None:
    p.add_argument("--max-examples", type=POSITIVE_INT, metavar="N",
                   help=f"{what} (default: all)")  # fmt: skip


def add_json_out(p) -> None:
    p.add_argument("--json-out", metavar="FILE", help="also write the numbers as JSON")
