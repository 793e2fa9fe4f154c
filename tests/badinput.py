"""The bad-input table: one row per (public function or CLI command, argument, bad value).

Each `tests/test_bad_inputs_*.py` file holds a list `ROWS` of [`Row`][]s and runs them with
[`check_row`][]. A row passes only when the call raises the expected error *and* its message
contains every one of `words` (case-insensitive) — so a row fails on a silent wrong answer
(no error), on an unclear error (a traceback without the argument's name) and on an error
that names the wrong argument. `tests/test_bad_inputs_count.py` checks the table's size.

Under `jit`/`vmap`, value checks are `eqx.error_if`: the program raises a `RuntimeError`
(JAX's `JaxRuntimeError`) carrying the same message; rows with `mode="jit"` expect that.
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
        msg = str(e)
        missing = [w for w in row.words if w.lower() not in msg.lower()]
        assert not missing, f"{row.id}: error lacks {missing}: {msg[:500]}"
    except BaseException as e:  # noqa: BLE001
        if type(e).__name__ == "TypeCheckError":  # the jaxtyping hook, when on, is also clear
            return
        raise AssertionError(
            f"{row.id}: expected {row.raises}, got {type(e).__name__}: {e}"
        ) from e
    else:
        raise AssertionError(f"{row.id}: no error raised (silent)")


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
