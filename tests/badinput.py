"""The bad-input table: one row per (public function or CLI command, argument, bad value).

Each `tests/test_bad_inputs_*.py` file holds a list `ROWS` of [`Row`][]s and runs them with
[`check_row`][]. A row passes only when the call raises the expected error *and* its message
contains every one of `words` (case-insensitive) — so a row fails on a silent wrong answer
(no error), on an unclear error (a traceback without the argument's name) and on an error
that names the wrong argument. `tests/test_bad_inputs_count.py` checks the table's size.

Under `jit`/`vmap`, value checks are `eqx.error_if`: the program raises a `RuntimeError`
(JAX's `JaxRuntimeError`) carrying the same message; rows with `mode="jit"` expect that.

With the jaxtyping + beartype import hook on (`--jaxtyping-packages=jaxbd,beartype.beartype`,
the default test run), an argument whose type or shape contradicts its annotation is refused by
the hook before the library's own check runs: a row then also passes on the hook's
`TypeCheckError` when that error names the row's argument as the parameter it rejected. With
the hook off, a row accepts only the library's own error.
"""

import dataclasses
import re
import subprocess
import sys
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class Row:
    """`call()` must raise `raises` with all of `words` in its message."""

    target: str  # public name, e.g. "jaxbd.rff.train" or "cli activate"
    argument: str  # the argument (or flag / file) that is bad
    bad: str  # what is wrong with it, for the test id
    call: Callable[[], object]
    words: tuple[str, ...] = ()
    raises: type[BaseException] | tuple[type[BaseException], ...] = ValueError
    mode: str = "eager"  # "eager", "jit" or "vmap": where the bad value is seen

    @property
    def id(self) -> str:
        return f"{self.target}:{self.argument}={self.bad}[{self.mode}]"


def check_row(row: Row) -> None:
    expected = row.raises
    if row.mode in ("jit", "vmap") and expected is ValueError:
        expected = (ValueError, RuntimeError)  # traced checks raise when the program runs
    try:
        row.call()
    except expected as e:  # type: ignore[misc]
        if _hook_names_argument(e, row.argument):
            return
        msg = str(e)
        missing = [w for w in row.words if w.lower() not in msg.lower()]
        assert not missing, f"{row.id}: error lacks {missing}: {msg[:500]}"
    except BaseException as e:  # noqa: BLE001
        if _hook_names_argument(e, row.argument):
            return
        raise AssertionError(
            f"{row.id}: expected {row.raises}, got {type(e).__name__}: {e}"
        ) from e
    else:
        raise AssertionError(f"{row.id}: no error raised (silent)")


def hook_on() -> bool:
    """Whether jaxtyping's import hook is installed (pytest `--jaxtyping-packages=...`)."""
    return any(type(f).__module__.startswith("jaxtyping") for f in sys.meta_path)


def _hook_names_argument(e: BaseException, argument: str) -> bool:
    """`e` is the import hook's `TypeCheckError` rejecting the parameter `argument` (its
    leading identifier: "x" for "x (rank)", "copies" for "copies[0]")."""
    if type(e).__name__ != "TypeCheckError" or not hook_on():
        return False
    name = re.match(r"[A-Za-z_]\w*", argument.lstrip("-"))
    return name is not None and f"parameter '{name.group()}'" in str(e)


def done(out):
    """Wait for a (possibly asynchronously dispatched) result: traced errors raise here."""
    import jax

    return jax.block_until_ready(out)


def jit(f, *args):
    """A row's call: `f` under `jax.jit` on `args` (the bad value seen traced)."""
    import jax

    return lambda: done(jax.jit(f)(*args))


def vmap(f, *args):
    """A row's call: `f` under `jax.vmap` over `args`."""
    import jax

    return lambda: done(jax.vmap(f)(*args))


def ids(rows: list[Row]) -> list[str]:
    return [r.id for r in rows]


@dataclasses.dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd=None, timeout: float = 600) -> CliResult:
    """Run `python -m jaxbd.cli ARGS` in a fresh process."""
    p = subprocess.run(
        [sys.executable, "-m", "jaxbd.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
    return CliResult(p.returncode, p.stdout, p.stderr)


def one_line_error(res: CliResult, code: int, words: tuple[str, ...]) -> None:
    """A CLI failure must exit with `code` and print one line naming the problem, no traceback."""
    assert res.code == code, (res.code, res.stderr[-2000:])
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if not ln.startswith("[jaxbd] warning")]
    assert len(errors) == 1, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    for w in words:
        assert re.search(re.escape(w), errors[0], re.IGNORECASE), (w, errors[0])
