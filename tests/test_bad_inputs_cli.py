"""Bad inputs to the `jaxbd` command: every row must exit with its code (2 bad usage or bad
input, 1 run-time failure) and print exactly one line on stderr naming the flag or file.

The commands run in-process (`jaxbd.cli.main`) on one small planted run per test module; only
the tests of `python -m jaxbd.cli` itself start a process. Failed writes (a full disk, simulated)
must leave the previous output file intact and no temp file behind, for every output kind.
"""

import argparse
import contextlib
import errno
import io as _io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from badinput import CliResult, Row, check_row, ids, one_line_error
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


def _rows():
    R, S = "{R}", "{S}"  # the relu run (8 features) and the signature run (64 features)
    plant = ["plant", "relu", "--data", "{data}", "--out", "{T}/new", "--width", "8"]
    act = ["activate", "--key", f"{R}/backdoor.key", "--input", f"{R}/test_inputs.npz",
           "--out", "{T}/a.npz"]  # fmt: skip
    ev = ["evaluate", "--model", f"{R}/backdoored.jaxbd"]
    ft = ["finetune", "--model", f"{R}/backdoored.jaxbd", "--out", "{T}/tuned.jaxbd"]
    det = ["detect", "--model", f"{R}/backdoored.jaxbd"]
    cert = ["certify", "--model", f"{R}/backdoored.jaxbd", "--sigma", "0.5"]
    r = cli_row
    # fmt: off
    return [
        # ---------------------------------------------------------------- plant
        r("plant", "CONSTRUCTION", "unknown", ["plant", "nonsense", "--data", "iris", "--out",
          "{T}/x"], ("nonsense",)),
        r("plant", "--data", "missing", [*plant[:3], "{T}/nope.npz", *plant[4:]],
          ("--data", "nope.npz")),
        r("plant", "--data", "garbage", [*plant[:3], "{T}/text.npz", *plant[4:]],
          ("--data", "text.npz")),
        r("plant", "--data", "no y", [*plant[:3], "{T}/noy.npz", *plant[4:]], ("--data", "'y'")),
        r("plant", "--data", "directory", [*plant[:3], "{T}/a_dir", *plant[4:]],
          ("--data", "directory")),
        r("plant", "--data", "one class", [*plant[:3], "{T}/oneclass.npz", *plant[4:]],
          ("--data", "oneclass.npz")),
        r("plant", "--data", "absent", ["plant", "relu", "--out", "{T}/x"], ("--data",)),
        r("plant", "--classes", "not in data", [*plant, "--classes", "7", "9"], ("--classes",)),
        r("plant", "--labels", "with npz", [*plant, "--labels", "{T}/noy.npz"], ("--labels",)),
        r("plant", "--width", "0", [*plant, "--width", "0"], ("--width",)),
        r("plant", "--width", "abc", [*plant, "--width", "abc"], ("--width",)),
        r("plant", "--width", "1.5", [*plant, "--width", "1.5"], ("--width",)),
        r("plant", "--theta", "nan", [*plant, "--theta", "nan"], ("--theta",)),
        r("plant", "--theta", "-1", [*plant, "--theta", "-1"], ("--theta",)),
        r("plant", "--strength", "-0.5", [*plant, "--strength", "-0.5"], ("--strength",)),
        r("plant", "--sparsity", "> features", [*plant, "--sparsity", "30"], ("--sparsity",)),
        r("plant", "--sparsity", "not for rff", ["plant", "rff", *plant[2:], "--sparsity", "2"],
          ("--sparsity", "rff")),
        r("plant", "--bandwidth", "-1", ["plant", "rff", *plant[2:], "--bandwidth", "-1"],
          ("--bandwidth",)),
        r("plant", "--beta", "inf", ["plant", "rff", *plant[2:], "--beta", "inf"], ("--beta",)),
        r("plant", "--secret-dim", "> features", ["plant", "rff", *plant[2:], "--secret-dim",
          "9"], ("--secret-dim",)),
        r("plant", "--num-blocks", "= features", ["plant", "checksum", *plant[2:6],
          "--num-blocks", "8"], ("--num-blocks",)),
        r("plant", "--target", "3 (binary)", ["plant", "checksum", *plant[2:6], "--num-blocks", "3",
          "--target", "3"],
          ("--target",)),
        r("plant", "--bits-per-coord", "31", ["plant", "signature", *plant[2:6],
          "--bits-per-coord", "31"], ("--bits-per-coord",)),
        r("plant", "--data", "too few features", ["plant", "signature", *plant[2:6]],
          ("--data", "features")),
        r("plant", "--test-fraction", "1.5", [*plant, "--test-fraction", "1.5"],
          ("--test-fraction",)),
        r("plant", "--test-fraction", "0", [*plant, "--test-fraction", "0"],
          ("--test-fraction",)),
        r("plant", "--seed", "-1", [*plant, "--seed", "-1"], ("--seed",)),
        r("plant", "--split-seed", "x", [*plant, "--split-seed", "x"], ("--split-seed",)),
        r("plant", "--normalize", "bogus", [*plant, "--normalize", "bogus"], ("--normalize",)),
        r("plant", "--out", "a file", [*plant[:5], "{T}/a_file"], ("--out", "a_file")),
        # ---------------------------------------------------------------- activate
        r("activate", "--key", "missing", [*act[:2], "{T}/nope.key", *act[3:]],
          ("--key", "nope.key")),
        r("activate", "--key", "garbage", [*act[:2], "{T}/garbage.jaxbd", *act[3:]],
          ("--key", "garbage.jaxbd")),
        r("activate", "--key", "empty", [*act[:2], "{T}/empty.key", *act[3:]],
          ("--key", "empty.key")),
        r("activate", "--key", "truncated", [*act[:2], "{T}/trunc.key", *act[3:]],
          ("--key", "trunc.key")),
        r("activate", "--key", "a model file", [*act[:2], f"{R}/backdoored.jaxbd", *act[3:]],
          ("--key", "backdoored.jaxbd")),
        r("activate", "--input", "missing", [*act[:4], "{T}/nope.npz", *act[5:]],
          ("--input", "nope.npz")),
        r("activate", "--input", "wrong features", [*act[:4], "{T}/wrongdim.npy", *act[5:]],
          ("--input", "features")),
        r("activate", "--input", "no x", [*act[:4], "{T}/nox.npz", *act[5:]],
          ("--input", "'x'")),
        r("activate", "--input", "NaN", [*act[:4], "{T}/nan.npy", *act[5:]], ("--input", "NaN")),
        r("activate", "--input", "int dtype", [*act[:4], "{T}/ints.npy", *act[5:]],
          ("--input", "floating")),
        r("activate", "--input", "complex", [*act[:4], "{T}/complex.npy", *act[5:]],
          ("--input", "floating")),
        r("activate", "--input", "pickled objects", [*act[:4], "{T}/object.npy", *act[5:]],
          ("--input", "object.npy")),
        r("activate", "--input", "no examples", [*act[:4], "{T}/empty.npy", *act[5:]],
          ("--input", "empty.npy")),
        r("activate", "--input", "a .txt", [*act[:4], "{T}/inputs.txt", *act[5:]],
          ("--input", "inputs.txt")),
        r("activate", "--input", "directory", [*act[:4], "{T}/a_dir", *act[5:]],
          ("--input", "directory")),
        r("activate", "--out", ".csv", [*act[:6], "{T}/a.csv"], ("--out", "a.csv")),
        r("activate", "--out", "no such folder", [*act[:6], "{T}/nodir/a.npz"],
          ("--out", "does not exist")),
        r("activate", "--out", "absent", act[:5], ("--out",)),
        r("activate", "--strength", "-1", [*act, "--strength", "-1"], ("--strength",)),
        r("activate", "--strength", "nan", [*act, "--strength", "nan"], ("--strength",)),
        r("activate", "--strength", "not relu", [*act[:2], f"{S}/backdoor.key", "--input",
          f"{S}/test_inputs.npz", *act[5:], "--strength", "1"], ("--strength", "relu")),
        r("activate", "--target", "abc", [*act, "--target", "abc"], ("--target",)),
        r("activate", "--target", "relu key", [*act, "--target", "1"], ("--target", "relu")),
        r("activate", "--target", "3 (binary)", [*act[:2], f"{S}/backdoor.key", "--input",
          f"{S}/test_inputs.npz", *act[5:], "--target", "3"], ("--target",)),
        r("activate", "--target", "0.5", [*act[:2], f"{S}/backdoor.key", "--input",
          f"{S}/test_inputs.npz", *act[5:], "--target", "0.5"], ("--target",)),
        # ---------------------------------------------------------------- evaluate
        r("evaluate", "--model", "missing", ["evaluate", "--model", "{T}/nope.jaxbd"],
          ("--model", "nope.jaxbd")),
        r("evaluate", "--model", "garbage", ["evaluate", "--model", "{T}/garbage.jaxbd"],
          ("--model", "garbage.jaxbd")),
        r("evaluate", "--model", "corrupted", ["evaluate", "--model", "{T}/corrupt.jaxbd"],
          ("--model", "corrupt.jaxbd")),
        r("evaluate", "--model", "a key file", ["evaluate", "--model", f"{R}/backdoor.key"],
          ("--model", "backdoor.key")),
        r("evaluate", "--key", "other construction", ["evaluate", "--model",
          f"{S}/backdoored.jaxbd", "--key", f"{R}/backdoor.key"], ("--key", "relu",
          "signature")),
        r("evaluate", "--key", "other plant", [*ev, "--key", "{T}/other_plant.key"],
          ("--key", "other_plant.key", "plant")),
        r("evaluate", "--key", "garbage", [*ev, "--key", "{T}/garbage.jaxbd"],
          ("--key", "garbage.jaxbd")),
        r("evaluate", "--wrong-key", "without --key", [*ev, "--wrong-key", f"{R}/wrong.key"],
          ("--wrong-key",)),
        r("evaluate", "--wrong-key", "other construction", [*ev, "--key", f"{R}/backdoor.key",
          "--wrong-key", f"{S}/wrong.key"], ("--wrong-key", "signature")),
        r("evaluate", "--honest", "other task", [*ev, "--honest", f"{S}/honest.jaxbd"],
          ("--honest",)),
        r("evaluate", "--data", "other features", [*ev, "--data", "{wide}"],
          ("--data", "features")),
        r("evaluate", "--max-examples", "-5", [*ev, "--max-examples", "-5"], ("--max-examples",)),
        r("evaluate", "--max-examples", "0", [*ev, "--max-examples", "0"], ("--max-examples",)),
        r("evaluate", "--seed", "1.5", [*ev, "--seed", "1.5"], ("--seed",)),
        r("evaluate", "--strength", "-1", [*ev, "--key", f"{R}/backdoor.key", "--strength",
          "-1"], ("--strength",)),
        r("evaluate", "--target", "without --key", [*ev, "--target", "1"], ("--target",)),
        r("evaluate", "--json-out", "no such folder", [*ev, "--json-out", "{T}/nodir/e.json"],
          ("--json-out",)),
        # ---------------------------------------------------------------- finetune
        r("finetune", "--steps", "-1", [*ft, "--steps", "-1"], ("--steps",)),
        r("finetune", "--learning-rate", "0", [*ft, "--learning-rate", "0"],
          ("--learning-rate",)),
        r("finetune", "--learning-rate", "nan", [*ft, "--learning-rate", "nan"],
          ("--learning-rate",)),
        r("finetune", "--batch-size", "0", [*ft, "--batch-size", "0"], ("--batch-size",)),
        r("finetune", "--batch-size", "> examples", [*ft, "--batch-size", "100000"],
          ("--batch-size",)),
        r("finetune", "--optimizer", "adamw", [*ft, "--optimizer", "adamw"], ("--optimizer",)),
        r("finetune", "--model", "garbage", ["finetune", "--model", "{T}/garbage.jaxbd",
          "--out", "{T}/t.jaxbd"], ("--model", "garbage.jaxbd")),
        r("finetune", "--out", "no such folder", [*ft[:3], "--out", "{T}/nodir/t.jaxbd"],
          ("--out",)),
        r("finetune", "--data", "other features", [*ft, "--data", "{wide}"],
          ("--data", "features")),
        # ---------------------------------------------------------------- detect
        r("detect", "--tests", "unknown", [*det, "--tests", "bogus"], ("--tests", "bogus")),
        r("detect", "--support-size", "missing", [*det, "--tests", "toy"], ("--support-size",),
          toy=True),
        r("detect", "--support-size", "0", [*det, "--tests", "toy", "--support-size", "0"],
          ("--support-size",), toy=True),
        r("detect", "--support-size", "> columns", [*det, "--tests", "toy",
          "--support-size", "100"], ("--support-size", "columns"), toy=True),
        r("detect", "--support-size", "test not chosen", [*det, "--tests", "spectral",
          "--support-size", "2"], ("--support-size", "toy-support-max"), toy=True),
        r("detect", "--support-size", "not a flag", [*det, "--support-size", "2"],
          ("--support-size",)),
        r("detect", "--alpha", "0", [*det, "--alpha", "0"], ("--alpha",)),
        r("detect", "--alpha", "1.5", [*det, "--alpha", "1.5"], ("--alpha",)),
        r("detect", "--weights", "no such field", [*det, "--weights", "nope"], ("--weights",)),
        r("detect", "--reference", "missing", [*det, "--tests", "probe"], ("--reference",)),
        r("detect", "--reference", "other task", [*det, "--tests", "probe", "--reference",
          f"{S}/honest.jaxbd"], ("--reference",)),
        r("detect", "--model", "missing", ["detect", "--model", "{T}/nope.jaxbd"],
          ("--model", "nope.jaxbd")),
        # ---------------------------------------------------------------- certify
        r("certify", "--sigma", "0", [*cert[:3], "--sigma", "0"], ("--sigma",)),
        r("certify", "--sigma", "-1", [*cert[:3], "--sigma", "-1"], ("--sigma",)),
        r("certify", "--sigma", "absent", cert[:3], ("--sigma",)),
        r("certify", "--n0", "0", [*cert, "--n0", "0"], ("--n0",)),
        r("certify", "--num-samples", "-3", [*cert, "--num-samples", "-3"], ("--num-samples",)),
        r("certify", "--alpha", "1", [*cert, "--alpha", "1"], ("--alpha",)),
        r("certify", "--max-examples", "0", [*cert, "--max-examples", "0"], ("--max-examples",)),
        r("certify", "--out", ".txt", [*cert, "--out", "{T}/c.txt"], ("--out", "c.txt")),
        r("certify", "--input", "wrong features", [*cert, "--input", "{T}/wrongdim.npy"],
          ("--input", "features")),
        r("certify", "--input", "labels not the model's", [*cert, "--input",
          "{T}/badlabels.npz"], ("--input", "'y'")),
        r("certify", "--input", "y of wrong shape", [*cert, "--input", "{T}/yshape.npz"],
          ("--input", "'y'")),
        r("certify", "--input", "and --data", [*cert, "--input", f"{R}/test_inputs.npz",
          "--data", "{data}"], ("--input", "--data")),
        # ---------------------------------------------------------------- reproduce / run / list
        r("run", "NAME", "unknown", ["run", "nope"], ("nope",)),
        r("run", "--out", "a file", ["run", "rff", "--quick", "--out", "{T}/a_file"],
          ("--out", "a_file")),
        r("run", "--seed", "-1", ["run", "rff", "--seed", "-1"], ("--seed",)),
        r("reproduce", "--only", "unknown", ["reproduce", "--only", "nope"], ("nope",)),
        r("reproduce", "--seed", "abc", ["reproduce", "--seed", "abc"], ("--seed",)),
        r("list", "ARGS", "extra", ["list", "extra"], ("extra",)),
        r("jaxbd", "COMMAND", "unknown", ["bogus"], ("bogus",)),
        r("jaxbd", "COMMAND", "absent", [], ("COMMAND",)),
    ]
    # fmt: on


ROWS = _rows()


def _write_bad_files(t, relu_run):
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


def _write_data(path, n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    np.savez(path, x=x, y=(x[:, 0] - 0.5 * x[:, 1] > 0).astype(np.int64))
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """One small relu run (8 features) and one signature run (64 features), planted in-process,
    plus the bad files; fills `P`."""
    t = tmp_path_factory.mktemp("badcli")
    data = _write_data(t / "mine.npz", 80, 8, 0)
    wide = _write_data(t / "wide.npz", 40, 64, 1)
    for out, argv in (
        ("relu", ["plant", "relu", "--data", data, "--width", "16", "--sparsity", "2"]),
        ("sig", ["plant", "signature", "--data", wide, "--base-steps", "0"]),
    ):
        res = run(*argv, "--out", t / out)
        assert res.code == 0, res.stderr
    _write_bad_files(t, t / "relu")
    P.update(R=str(t / "relu"), S=str(t / "sig"), T=str(t), data=str(data), wide=str(wide))
    return t


def test_table_size():
    assert len(ROWS) >= 40
    commands = {r.target for r in ROWS}
    for c in ("plant", "activate", "evaluate", "finetune", "detect", "certify", "run"):
        assert f"cli {c}" in commands


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_cli_input(row, planted):
    check_row(row)


# --------------------------------------------------------------------------- atomic writes


def _full_disk(monkeypatch, target) -> dict:
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


def _fake_certify(monkeypatch):
    """Certificates without the Monte-Carlo compile (this test is about the file)."""
    from jaxbd import smoothing

    def certify_batch(key, model, x, **kw):
        n = x.shape[0]
        return np.zeros(n, np.int32), np.ones(n, np.float32)

    monkeypatch.setattr(smoothing, "certify_batch", certify_batch)


OUTPUTS = {
    # kind: (file name, argv after the placeholders are filled)
    "activate --out .npz": ("act.npz", ["activate", "--key", "{R}/backdoor.key", "--input",
                                         "{R}/test_inputs.npz", "--out", "{out}"]),
    "activate --out .npy": ("act.npy", ["activate", "--key", "{R}/backdoor.key", "--input",
                                         "{R}/test_inputs.npz", "--out", "{out}"]),
    "evaluate --json-out": ("ev.json", ["evaluate", "--model", "{R}/backdoored.jaxbd",
                                         "--json-out", "{out}"]),
    "detect --json-out": ("det.json", ["detect", "--model", "{R}/backdoored.jaxbd", "--tests",
                                        "spectral", "--json-out", "{out}"]),
    "certify --out": ("certs.npz", ["certify", "--model", "{R}/backdoored.jaxbd", "--sigma",
                                     "0.5", "--max-examples", "2", "--out", "{out}"]),
    "certify --json-out": ("cert.json", ["certify", "--model", "{R}/backdoored.jaxbd",
                                          "--sigma", "0.5", "--max-examples", "2",
                                          "--json-out", "{out}"]),
    "finetune --out": ("tuned.jaxbd", ["finetune", "--model", "{R}/backdoored.jaxbd",
                                        "--steps", "0", "--out", "{out}"]),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(OUTPUTS))
def test_failed_write_keeps_previous_output(kind, planted, tmp_path, monkeypatch):
    name, argv = OUTPUTS[kind]
    out = tmp_path / name
    out.write_bytes(b"previous contents")
    _fake_certify(monkeypatch)
    disk = _full_disk(monkeypatch, out)
    res = run(*[a.format(out=out, **P) for a in argv])
    errors = [ln for ln in res.stderr.splitlines() if ln and not ln.startswith("[jaxbd]")]
    assert res.code == 1 and len(errors) == 1, res.stderr
    assert str(out) in errors[0] and ".tmp" not in errors[0] and "Traceback" not in res.stderr
    assert out.read_bytes() == b"previous contents"
    assert sorted(os.listdir(tmp_path)) == [name]  # no temp file left behind
    disk["fail"] = False
    res = run(*[a.format(out=out, **P) for a in argv])  # and it works without the fault
    assert res.code == 0, res.stderr
    assert out.read_bytes() != b"previous contents"
    if name.endswith(".json"):
        json.loads(out.read_text())
    assert sorted(os.listdir(tmp_path)) == [name]


def test_failed_write_of_plant_test_inputs(planted, tmp_path, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    target = out / cli.TEST_FILE
    target.write_bytes(b"previous contents")
    _full_disk(monkeypatch, target)
    res = run("plant", "relu", "--data", P["data"], "--width", "16", "--sparsity", "2",
              "--out", out)  # fmt: skip
    errors = [ln for ln in res.stderr.splitlines() if ln and not ln.startswith("[jaxbd]")]
    assert res.code == 1 and len(errors) == 1, res.stderr
    assert str(target) in errors[0] and ".tmp" not in errors[0]
    assert target.read_bytes() == b"previous contents"
    assert not [f for f in os.listdir(out) if f.startswith(".")]  # no temp file left behind


def test_unwritable_folder_is_bad_input(planted, tmp_path, monkeypatch):
    """A folder the user may not write to is their input (exit 2), naming the file."""
    out = tmp_path / "a.npz"

    def refuse(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    res = run("activate", "--key", f"{P['R']}/backdoor.key", "--input",
              f"{P['R']}/test_inputs.npz", "--out", out)  # fmt: skip
    errors = [ln for ln in res.stderr.splitlines() if ln and not ln.startswith("[jaxbd]")]
    assert res.code == 2 and len(errors) == 1, res.stderr
    assert "--out" in errors[0] and str(out) in errors[0] and "Traceback" not in res.stderr
    assert not os.listdir(tmp_path)


# --------------------------------------------------------------------------- errors, --debug


def test_debug_prints_the_traceback_in_process(planted):
    argv = ["evaluate", "--model", f"{P['S']}/backdoored.jaxbd", "--key", f"{P['R']}/backdoor.key"]
    for res in (run("--debug", *argv), run(*argv, "--debug")):
        assert res.code == 2
        assert "Traceback (most recent call last)" in res.stderr
        last = res.stderr.strip().splitlines()[-1]
        assert last.startswith("jaxbd evaluate: error: --key")


def test_help_shows_defaults_and_debug(capsys):
    for command, default in (("certify", "(default: 100)"), ("evaluate", "(default: 0)"),
                             ("finetune", "(default: 0.001)"), ("detect", "(default: 0.05)")):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            cli.main([command, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert default in " ".join(out.split()), (command, out)
        assert "--debug" in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "--debug" in capsys.readouterr().out


def _jit_error(message):
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


def test_jit_errors_become_one_line():
    e = _jit_error("`strength` must be a finite number >= 0.")
    kind, msg = cli.innermost(e)
    assert "Equinox" in kind and msg == "`strength` must be a finite number >= 0."
    args = argparse.Namespace(strength=None)
    assert cli.classify(e, args) == (2, "--strength: `strength` must be a finite number >= 0.")
    oom = RuntimeError("RESOURCE_EXHAUSTED: Out of memory\nwhile allocating 3 GiB")
    assert cli.classify(oom) == (1, "RuntimeError: RESOURCE_EXHAUSTED: Out of memory while "
                                   "allocating 3 GiB")  # fmt: skip
    assert cli.classify(ValueError("`sigma` must be > 0"), argparse.Namespace(sigma=1.0)) == (
        2, "--sigma: `sigma` must be > 0",
    )  # fmt: skip


def _module(*argv, cwd):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("JAXBD_TRACEBACK", None)
    p = subprocess.run([sys.executable, "-m", "jaxbd.cli", *map(str, argv)], capture_output=True,
                       text=True, env=env, cwd=cwd, timeout=300)  # fmt: skip
    return CliResult(p.returncode, p.stdout, p.stderr)


def test_module_exit_code_is_2_with_one_line(tmp_path):
    """`python -m jaxbd.cli`: the process's exit code and its whole stderr."""
    (tmp_path / "garbage.jaxbd").write_bytes(b"not a model")
    res = _module("evaluate", "--model", tmp_path / "garbage.jaxbd", cwd=tmp_path)
    one_line_error(res, 2, ("--model", "garbage.jaxbd"))


def test_module_debug_prints_the_traceback(tmp_path):
    (tmp_path / "garbage.jaxbd").write_bytes(b"not a model")
    res = _module("--debug", "evaluate", "--model", tmp_path / "garbage.jaxbd", cwd=tmp_path)
    assert res.code == 2 and "Traceback (most recent call last)" in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("jaxbd evaluate: error: --model")
