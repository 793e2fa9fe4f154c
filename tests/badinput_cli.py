"""The machinery of the CLI bad-input table (`tests/test_bad_inputs_cli.py`): running `jaxbd`
in-process, one row per bad argv (`cli_row`, and `appended` / `replaced` for a flag's bad
values), the planted runs and bad files the rows read, and a simulated full disk."""

import contextlib
import errno
import io as _io
import os
import subprocess
import sys

import numpy as np
from badinput import CliResult, Row, one_line_error
from cli_toys import SupportMax, registered

from jaxbd import cli, io


P: dict[str, str] = {}  # paths of the planted run and the bad files, filled by `planted`


class CliError(Exception):
    """Raised by a row's call with the command's one error line (for `check_row`)."""


def run(*argv: str) -> CliResult:
    """`jaxbd ARGV` in this process, capturing stdout and stderr."""
    out, err = _io.StringIO(), _io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as e:  # argparse: usage errors and --help
            code = e.code if isinstance(e.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


def cli_row(command, argument, bad, argv, words, code=2, toy=False):
    """A row running `jaxbd ARGV` (`{name}` placeholders are paths from `P`); `toy`: with the
    toy distinguisher of `cli_toys` registered (a required field, range checks)."""

    def call():
        with registered(SupportMax) if toy else contextlib.nullcontext():
            res = run(*[a.format(**P) for a in argv])
        one_line_error(res, code, words)
        raise CliError(res.stderr.strip().splitlines()[-1])

    return Row(f"cli {command}", argument, bad, call, words=words, raises=CliError)


def _words(flag, more):
    return more[0] if len(more) == 1 and isinstance(more[0], tuple) else (flag, *more)


def appended(command, base, flags, toy=False):
    """Rows `jaxbd BASE FLAG VALUE` for each `flag: [(bad, value, *words)]` (`value`: one
    argument or a list of them); the error line names the flag and `words` (a tuple of words:
    the words in full)."""
    return [
        cli_row(command, flag, bad, [*base, flag, *([v] if isinstance(v, str) else v)],
                _words(flag, more), toy=toy)
        for flag, values in flags.items()
        for bad, v, *more in values
    ]  # fmt: skip


def replaced(command, base, flags):
    """Rows `jaxbd BASE` with the value after FLAG replaced (a bad file for `--data`, ...)."""

    def swap(flag, v):
        i = base.index(flag) + 1
        return [*base[:i], v, *base[i + 1 :]]

    return [
        cli_row(command, flag, bad, swap(flag, v), _words(flag, more))
        for flag, values in flags.items()
        for bad, v, *more in values
    ]  # fmt: skip


def write_bad_files(t, relu_run):
    """The garbage, truncated, wrong-kind and wrong-shape files the rows use."""
    rng = np.random.default_rng(0)
    (t / "garbage.jaxbd").write_bytes(rng.bytes(300))
    (t / "empty.key").write_bytes(b"")
    (t / "trunc.key").write_bytes((relu_run / "backdoor.key").read_bytes()[:40])
    corrupt = bytearray((relu_run / "backdoored.jaxbd").read_bytes())
    corrupt[-1] ^= 1
    (t / "corrupt.jaxbd").write_bytes(bytes(corrupt))
    (t / "text.npz").write_text("hello")
    (t / "inputs.txt").write_text("1 2 3")
    (t / "a_file").write_text("not a folder")
    (t / "a_dir").mkdir()
    np.savez(t / "noy.npz", x=np.zeros((4, 8)))
    np.savez(t / "nox.npz", z=np.zeros((4, 8)))
    np.save(t / "ints.npy", np.ones((3, 8), np.int64))
    np.save(t / "complex.npy", np.ones((3, 8), np.complex64))
    np.save(t / "nan.npy", np.full((2, 8), np.nan, np.float32))
    np.save(t / "wrongdim.npy", np.zeros((3, 2), np.float32))
    np.save(t / "empty.npy", np.zeros((0, 8), np.float32))
    np.save(t / "object.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    x = rng.standard_normal((4, 8)).astype(np.float32)
    np.savez(t / "badlabels.npz", x=x, y=np.full(4, 5))
    np.savez(t / "yshape.npz", x=x, y=np.ones(3))
    np.savez(t / "oneclass.npz", x=rng.standard_normal((40, 8)), y=np.ones(40, np.int64))
    # The relu key, re-saved as if it came from another `plant` run (another plant id).
    header = io.read_header(relu_run / "backdoor.key")
    hyper = {**header["hyperparameters"], "plant_id": "0123456789abcdef"}
    io.save_key(t / "other_plant.key", io.load_key(relu_run / "backdoor.key"),
                construction=header["construction"], hyperparameters=hyper)  # fmt: skip


def write_data(path, n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    np.savez(path, x=x, y=(x[:, 0] - 0.5 * x[:, 1] > 0).astype(np.int64))
    return path


def plant_runs(t):
    """One small relu run (8 features) and one signature run (64 features), planted in-process
    in the folder `t`, plus the bad files; fills `P`."""
    data = write_data(t / "mine.npz", 80, 8, 0)
    wide = write_data(t / "wide.npz", 40, 64, 1)
    for out, argv in (
        ("relu", ["plant", "relu", "--data", data, "--width", "16", "--sparsity", "2"]),
        ("sig", ["plant", "signature", "--data", wide, "--base-steps", "0"]),
    ):
        res = run(*argv, "--out", t / out)
        assert res.code == 0, res.stderr
    write_bad_files(t, t / "relu")
    P.update(R=str(t / "relu"), S=str(t / "sig"), T=str(t), data=str(data), wide=str(wide))


def full_disk(monkeypatch, target) -> dict:
    """`os.replace` onto `target` fails as on a full disk while `state["fail"]` (every other
    rename works)."""
    real, state = os.replace, {"fail": True}

    def replace(src, dst, *a, **kw):
        hit = os.path.abspath(os.fspath(dst)) == os.path.abspath(os.fspath(target))
        if hit and state["fail"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", replace)
    return state


def fake_certify(monkeypatch):
    """Certificates without the Monte-Carlo compile (this test is about the file)."""
    from jaxbd import smoothing

    def certify_batch(key, model, x, **kw):
        n = x.shape[0]
        return np.zeros(n, np.int32), np.ones(n, np.float32)

    monkeypatch.setattr(smoothing, "certify_batch", certify_batch)


def jit_error(message):
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    @jax.jit
    def f(x):
        return eqx.error_if(x, x < 0, message)

    with cli.quiet_callbacks():
        try:
            f(jnp.float32(-1.0)).block_until_ready()
        except Exception as e:  # noqa: BLE001
            return e
    raise AssertionError("no error raised")


def module(*argv, cwd):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("JAXBD_TRACEBACK", None)
    p = subprocess.run([sys.executable, "-m", "jaxbd.cli", *map(str, argv)], capture_output=True,
                       text=True, env=env, cwd=cwd, timeout=300)  # fmt: skip
    return CliResult(p.returncode, p.stdout, p.stderr)
