"""Exit codes, the two CLI error types, and one line on stderr per error or warning.

Exit codes: 0 success; 1 a run-time failure (a bug, out of memory, a full disk: the one-line
message says which); 2 bad usage or bad input (unknown construction, a bad flag value, a
missing/malformed file, wrong shapes, a model and a key that do not belong together) — one line
on stderr naming the flag or file, no traceback. `--debug` (or `JAXBD_TRACEBACK=1`) adds the
traceback.
"""

import contextlib
import logging
import re
import sys
import traceback


EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(ValueError):
    """Bad input from the user (a flag value, a file): exit code 2."""


class RunFailure(RuntimeError):
    """A run-time failure with a clear one-line message (e.g. a full disk): exit code 1."""


_BAD_INPUT_KINDS = {"ValueError", "UsageError", "EquinoxRuntimeError", "_EquinoxRuntimeError"}
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)): ?(.*)$")
_OS_USAGE = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
             FileExistsError)  # fmt: skip


def squash(text, limit: int = 600) -> str:
    """One line: whitespace runs (newlines included) become single spaces; long text is cut."""
    msg = " ".join(str(text).split())
    return msg if len(msg) <= limit else msg[:limit] + " ..."


def flag(name: str) -> str:
    """The CLI flag of a library argument / argparse dest: `support_size` -> `--support-size`."""
    return "--" + name.replace("_", "-")


def progress(msg: str) -> None:
    """A progress line on stderr: `[jaxbd] msg`."""
    print(f"[jaxbd] {msg}", file=sys.stderr, flush=True)


def warn(msg: str) -> None:
    """A warning as one line on stderr: `[jaxbd] warning: msg` (never an exception, so the
    tests' `filterwarnings = error` does not turn a sanity check into a failure)."""
    try:
        print(f"[jaxbd] warning: {squash(msg)}", file=sys.stderr, flush=True)
    except OSError:
        pass


def show_warning(message, category, filename, lineno, file=None, line=None):
    """`warnings.showwarning` for the CLI: `[jaxbd] warning: Category: message`, one line."""
    out = file if file is not None else sys.stderr
    try:
        print(f"[jaxbd] warning: {category.__name__}: {squash(message)}", file=out, flush=True)
    except OSError:
        pass


def innermost(e: BaseException) -> tuple[str, str]:
    """`(kind, message)` of the error that really happened.

    A JAX runtime error raised by a host callback (`eqx.error_if`, `jax.pure_callback`) carries
    the callback's whole traceback in its message: keep the innermost exception's type and
    message, drop the traceback and equinox's advice block.
    """
    text = str(e)
    kind = type(e).__name__
    if isinstance(e, RuntimeError) and (
        "Traceback (most recent call last)" in text or "CpuCallback" in text
    ):
        text = re.split(r"\n-{10,}\n", text)[0]
        lines = text.rstrip().splitlines()
        for i in range(len(lines) - 1, -1, -1):
            m = _EXCEPTION_LINE.match(lines[i])
            if m:
                return m.group(1).rsplit(".", 1)[-1], squash(
                    " ".join([m.group(2), *lines[i + 1 :]])
                )
    if "Equinox" in kind:  # eqx.error_if on concrete values raises its own RuntimeError
        text = re.split(r"\n-{10,}\n", text)[0]
    return kind, squash(text)


def flag_for(msg: str, args) -> str | None:
    """The CLI flag of the first library argument named in `msg` (`name` in backticks) that is
    also a flag of this command (argparse dests are the library's argument names)."""
    present = vars(args) if args is not None else {}
    for name in re.findall(r"`(\w+)`", msg):
        if name in present:
            return flag(name)
    return None


def _with_flag(msg: str, args) -> str:
    if re.match(r"^(--[\w-]+|'[^']*'|\"[^\"]*\")", msg):  # names a flag or a file already
        return msg
    f = flag_for(msg, args)
    return f"{f}: {msg}" if f else msg


def classify(e: BaseException, args=None) -> tuple[int, str]:
    """`(exit code, one-line message)` for an error raised by a command."""
    if isinstance(e, UsageError):
        return EXIT_USAGE, _with_flag(squash(str(e)), args)
    if isinstance(e, RunFailure):
        return EXIT_FAILURE, squash(str(e))
    if isinstance(e, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(e, _OS_USAGE):
        return EXIT_USAGE, squash(str(e))
    kind, msg = innermost(e)
    bad_type = type(e).__name__ == "TypeCheckError"  # jaxtyping's check of a file's arrays
    if (
        isinstance(e, ValueError)
        or bad_type
        or (isinstance(e, RuntimeError) and kind in _BAD_INPUT_KINDS)
    ):
        return EXIT_USAGE, _with_flag(msg, args)
    return EXIT_FAILURE, f"{kind}: {msg}"


@contextlib.contextmanager
def blame(default: str, args=None):
    """Report bad-input errors raised inside as a `UsageError` naming `default` (a flag and
    its file) unless the message names a flag of its own."""
    try:
        yield
    except UsageError:
        raise
    except Exception as e:
        if classify(e, args)[0] != EXIT_USAGE or isinstance(e, OSError):
            raise
        msg = innermost(e)[1]
        if not msg.startswith("--"):
            msg = f"{flag_for(msg, args) or default}: {msg}"
        raise UsageError(msg) from e


@contextlib.contextmanager
def quiet_callbacks(quiet: bool = True):
    """Silence JAX's logging of a failed host callback (a whole traceback on stderr) while a
    command runs; the error itself still arrives, as one line."""
    loggers = [logging.getLogger(n) for n in ("jax._src.callback", "jax._src.debugging")]
    old = [lg.disabled for lg in loggers]
    try:
        if quiet:
            for lg in loggers:
                lg.disabled = True
        yield
    finally:
        for lg, o in zip(loggers, old):
            lg.disabled = o


def report_error(e: BaseException, command: str, *, args=None, debug: bool = False) -> int:
    """Print one line for `e` (and its traceback when `debug`) and return the exit code."""
    code, msg = classify(e, args)
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    if code == EXIT_USAGE:
        print(f"jaxbd {command}: error: {msg}", file=sys.stderr, flush=True)
    else:
        hint = "" if debug else " (run with --debug for the traceback)"
        print(f"jaxbd {command}: failed: {msg}{hint}", file=sys.stderr, flush=True)
    return code
