"""`main`: plugins, the parser, the compilation cache, one error line, the exit code."""

import os
import sys
import warnings

from .. import constructions
from ._errors import EXIT_USAGE, quiet_callbacks, report_error, show_warning, squash
from ._parser import COMMANDS, build_parser


def _enable_compile_cache() -> None:
    """JAX's persistent compilation cache: a later CLI step reuses the XLA programs an earlier
    one compiled (most of a step's time on digits is compilation)."""
    if os.environ.get("JAXBD_NO_COMPILE_CACHE", "") not in ("", "0"):
        return
    import jax

    # the user configured one already (a dynamic flag attribute, not in jax's Config stub)
    if getattr(jax.config, "jax_compilation_cache_dir", None):
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
    # the bundled scikit-learn arrays too (jaxbd.datasets reads this variable)
    os.environ.setdefault(
        "JAXBD_DATA_CACHE_DIR", os.path.normpath(os.path.join(path, "..", "data"))
    )


def _plugins(argv) -> list[str]:
    found = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--plugin"]
    return found + [a.split("=", 1)[1] for a in argv if a.startswith("--plugin=")]


def main(argv=None) -> int:
    """Run `jaxbd ARGV`; returns the exit code (argparse's own usage errors and `--help` raise
    `SystemExit`, code 2 and 0)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        constructions.load_plugins(_plugins(argv))  # before the parser: plugins add choices
    except Exception as e:  # noqa: BLE001 - a plugin that fails to import is bad usage
        print(f"jaxbd: error: --plugin: {type(e).__name__}: {squash(e)}", file=sys.stderr)
        return EXIT_USAGE
    args = build_parser().parse_args(argv)
    if not args.no_compile_cache:
        _enable_compile_cache()
    args.debug = bool(getattr(args, "debug", False) or os.environ.get("JAXBD_TRACEBACK"))
    with warnings.catch_warnings(), quiet_callbacks(not args.debug):
        warnings.showwarning = show_warning
        try:
            return COMMANDS[args.command](args)
        except (Exception, KeyboardInterrupt) as e:
            return report_error(e, args.command, args=args, debug=args.debug)
