"""Bad inputs to the `jaxbd` command: every row must exit with its code (2 bad usage or bad
input, 1 run-time failure) and print exactly one line on stderr naming the flag or file.

The commands run in-process (`jaxbd.cli.main`) on one small planted run per test module; only
the tests of `python -m jaxbd.cli` itself start a process. Failed writes (a full disk, simulated)
must leave the previous output file intact and no temp file behind, for every output kind.
"""

import argparse
import errno
import json
import os

import badinput_cli as bc
import pytest
from badinput import check_row, ids, one_line_error
from badinput_cli import P, appended, cli_row, plant_runs, replaced, run

from jaxbd import cli


def _rows():
    R, S, T = "{R}", "{S}", "{T}"  # the relu run (8 features), the signature run (64), tmp
    plant = ["plant", "relu", "--data", "{data}", "--out", f"{T}/new", "--width", "8"]
    checksum = ["plant", "checksum", *plant[2:6]]
    act = [
        "activate",
        "--key",
        f"{R}/backdoor.key",
        "--input",
        f"{R}/test_inputs.npz",
        "--out",
        f"{T}/a.npz",
    ]
    act_sig = [*act[:2], f"{S}/backdoor.key", "--input", f"{S}/test_inputs.npz", *act[5:]]
    ev = ["evaluate", "--model", f"{R}/backdoored.jaxbd"]
    ft = ["finetune", "--model", f"{R}/backdoored.jaxbd", "--out", f"{T}/tuned.jaxbd"]
    det = ["detect", "--model", f"{R}/backdoored.jaxbd"]
    cert = ["certify", "--model", f"{R}/backdoored.jaxbd", "--sigma", "0.5"]
    r = cli_row
    return [
        # ---------------------------------------------------------------- plant
        r("plant", "CONSTRUCTION", "unknown",
            ["plant", "nonsense", "--data", "iris", "--out", f"{T}/x"], ("nonsense",)),
        *replaced("plant", plant, {"--data": [
            ("missing", f"{T}/nope.npz", "nope.npz"), ("garbage", f"{T}/text.npz", "text.npz"),
            ("no y", f"{T}/noy.npz", "'y'"), ("directory", f"{T}/a_dir", "directory"),
            ("one class", f"{T}/oneclass.npz", "oneclass.npz")]}),
        r("plant", "--data", "absent", ["plant", "relu", "--out", f"{T}/x"], ("--data",)),
        *appended("plant", plant, {
            "--classes": [("not in data", ["7", "9"])],
            "--labels": [("with npz", f"{T}/noy.npz")],
            "--width": [("0", "0"), ("abc", "abc"), ("1.5", "1.5")],
            "--theta": [("nan", "nan"), ("-1", "-1")],
            "--strength": [("-0.5", "-0.5")],
            "--sparsity": [("> features", "30")],
            "--test-fraction": [("1.5", "1.5"), ("0", "0")],
            "--seed": [("-1", "-1")],
            "--split-seed": [("x", "x")],
            "--normalize": [("bogus", "bogus")],
        }),
        *appended("plant", ["plant", "rff", *plant[2:]], {
            "--sparsity": [("not for rff", "2", "rff")],
            "--bandwidth": [("-1", "-1")],
            "--beta": [("inf", "inf")],
            "--secret-dim": [("> features", "9")],
        }),
        *appended("plant", checksum, {"--num-blocks": [("= features", "8")]}),
        *appended("plant", [*checksum, "--num-blocks", "3"], {"--target": [("3 (binary)", "3")]}),
        *appended("plant", ["plant", "signature", *plant[2:6]],
            {"--bits-per-coord": [("31", "31")]}),
        r("plant", "--data", "too few features", ["plant", "signature", *plant[2:6]],
            ("--data", "features")),
        r("plant", "--out", "a file", [*plant[:5], f"{T}/a_file"], ("--out", "a_file")),
        # ---------------------------------------------------------------- activate
        *replaced("activate", act, {
            "--key": [("missing", f"{T}/nope.key", "nope.key"),
                      ("garbage", f"{T}/garbage.jaxbd", "garbage.jaxbd"),
                      ("empty", f"{T}/empty.key", "empty.key"), ("truncated", f"{T}/trunc.key", "trunc.key"),
                      ("a model file", f"{R}/backdoored.jaxbd", "backdoored.jaxbd")],
            "--input": [("missing", f"{T}/nope.npz", "nope.npz"),
                        ("wrong features", f"{T}/wrongdim.npy", "features"),
                        ("no x", f"{T}/nox.npz", "'x'"), ("NaN", f"{T}/nan.npy", "NaN"),
                        ("int dtype", f"{T}/ints.npy", "floating"), ("complex", f"{T}/complex.npy", "floating"),
                        ("pickled objects", f"{T}/object.npy", "object.npy"),
                        ("no examples", f"{T}/empty.npy", "empty.npy"), ("a .txt", f"{T}/inputs.txt", "inputs.txt"),
                        ("directory", f"{T}/a_dir", "directory")],
            "--out": [(".csv", f"{T}/a.csv", "a.csv"),
                      ("no such folder", f"{T}/nodir/a.npz", "does not exist")],
        }),
        r("activate", "--out", "absent", act[:5], ("--out",)),
        *appended("activate", act, {
            "--strength": [("-1", "-1"), ("nan", "nan")],
            "--target": [("abc", "abc"), ("relu key", "1", "relu")],
        }),
        *appended("activate", act_sig, {
            "--strength": [("not relu", "1", "relu")],
            "--target": [("3 (binary)", "3"), ("0.5", "0.5")],
        }),
        # ---------------------------------------------------------------- evaluate
        *replaced("evaluate", ev, {"--model": [
            ("missing", f"{T}/nope.jaxbd", "nope.jaxbd"), ("garbage", f"{T}/garbage.jaxbd", "garbage.jaxbd"),
            ("corrupted", f"{T}/corrupt.jaxbd", "corrupt.jaxbd"), ("a key file", f"{R}/backdoor.key", "backdoor.key")]}),
        *appended("evaluate", ["evaluate", "--model", f"{S}/backdoored.jaxbd"], {
            "--key": [("other construction", f"{R}/backdoor.key", "relu", "signature")],
        }),
        *appended("evaluate", ev, {
            "--key": [("other plant", f"{T}/other_plant.key", "other_plant.key", "plant"),
                      ("garbage", f"{T}/garbage.jaxbd", "garbage.jaxbd")],
            "--wrong-key": [("without --key", f"{R}/wrong.key")],
            "--honest": [("other task", f"{S}/honest.jaxbd")],
            "--data": [("other features", "{wide}", "features")],
            "--max-examples": [("-5", "-5"), ("0", "0")],
            "--seed": [("1.5", "1.5")],
            "--target": [("without --key", "1")],
            "--json-out": [("no such folder", f"{T}/nodir/e.json")],
        }),
        *appended("evaluate", [*ev, "--key", f"{R}/backdoor.key"], {
            "--wrong-key": [("other construction", f"{S}/wrong.key", "signature")],
            "--strength": [("-1", "-1")],
        }),
        # ---------------------------------------------------------------- finetune
        *appended("finetune", ft, {
            "--steps": [("-1", "-1")],
            "--learning-rate": [("0", "0"), ("nan", "nan")],
            "--batch-size": [("0", "0"), ("> examples", "100000")],
            "--optimizer": [("adamw", "adamw")],
            "--data": [("other features", "{wide}", "features")],
        }),
        r("finetune", "--model", "garbage",
            ["finetune", "--model", f"{T}/garbage.jaxbd", "--out", f"{T}/t.jaxbd"],
            ("--model", "garbage.jaxbd")),
        *replaced("finetune", ft, {"--out": [("no such folder", f"{T}/nodir/t.jaxbd")]}),
        # ---------------------------------------------------------------- detect
        *appended("detect", det, {
            "--tests": [("unknown", "bogus", "bogus")],
            "--support-size": [("not a flag", "2")],
            "--alpha": [("0", "0"), ("1.5", "1.5")],
            "--weights": [("no such field", "nope")],
        }),
        r("detect", "--support-size", "missing", [*det, "--tests", "toy"], ("--support-size",),
            toy=True),
        *appended("detect", [*det, "--tests", "toy"],
            {"--support-size": [("0", "0"), ("> columns", "100", "columns")]}, toy=True),
        *appended("detect", [*det, "--tests", "spectral"],
            {"--support-size": [("test not chosen", "2", "toy-support-max")]}, toy=True),
        r("detect", "--reference", "missing", [*det, "--tests", "probe"], ("--reference",)),
        *appended("detect", [*det, "--tests", "probe"],
            {"--reference": [("other task", f"{S}/honest.jaxbd")]}),
        *replaced("detect", det, {"--model": [("missing", f"{T}/nope.jaxbd", "nope.jaxbd")]}),
        # ---------------------------------------------------------------- certify
        *replaced("certify", cert, {"--sigma": [("0", "0"), ("-1", "-1")]}),
        r("certify", "--sigma", "absent", cert[:3], ("--sigma",)),
        *appended("certify", cert, {
            "--n0": [("0", "0")],
            "--num-samples": [("-3", "-3")],
            "--alpha": [("1", "1")],
            "--max-examples": [("0", "0")],
            "--out": [(".txt", f"{T}/c.txt", "c.txt")],
            "--input": [("wrong features", f"{T}/wrongdim.npy", "features"),
                        ("labels not the model's", f"{T}/badlabels.npz", "'y'"),
                        ("y of wrong shape", f"{T}/yshape.npz", "'y'"),
                        ("and --data", [f"{R}/test_inputs.npz", "--data", "{data}"], "--data")],
        }),
        # ---------------------------------------------------------------- reproduce / run / list
        r("run", "NAME", "unknown", ["run", "nope"], ("nope",)),
        r("run", "--out", "a file", ["run", "rff", "--quick", "--out", f"{T}/a_file"],
            ("--out", "a_file")),
        r("run", "--seed", "-1", ["run", "rff", "--seed", "-1"], ("--seed",)),
        r("reproduce", "--only", "unknown", ["reproduce", "--only", "nope"], ("nope",)),
        r("reproduce", "--seed", "abc", ["reproduce", "--seed", "abc"], ("--seed",)),
        r("list", "ARGS", "extra", ["list", "extra"], ("extra",)),
        r("jaxbd", "COMMAND", "unknown", ["bogus"], ("bogus",)),
        r("jaxbd", "COMMAND", "absent", [], ("COMMAND",)),
    ]  # fmt: skip


ROWS = _rows()


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The planted runs and bad files the rows use (paths in `P`)."""
    return plant_runs(tmp_path_factory.mktemp("badcli"))


def test_table_size():
    assert len(ROWS) >= 40
    commands = {r.target for r in ROWS}
    for c in ("plant", "activate", "evaluate", "finetune", "detect", "certify", "run"):
        assert f"cli {c}" in commands


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_cli_input(row, planted):
    check_row(row)


# --------------------------------------------------------------------------- atomic writes


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
    bc.fake_certify(monkeypatch)
    disk = bc.full_disk(monkeypatch, out)
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
    bc.full_disk(monkeypatch, target)
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


def test_jit_errors_become_one_line():
    e = bc.jit_error("`strength` must be a finite number >= 0.")
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


def test_module_exit_code_is_2_with_one_line(tmp_path):
    """`python -m jaxbd.cli`: the process's exit code and its whole stderr."""
    (tmp_path / "garbage.jaxbd").write_bytes(b"not a model")
    res = bc.module("evaluate", "--model", tmp_path / "garbage.jaxbd", cwd=tmp_path)
    one_line_error(res, 2, ("--model", "garbage.jaxbd"))


def test_module_debug_prints_the_traceback(tmp_path):
    (tmp_path / "garbage.jaxbd").write_bytes(b"not a model")
    res = bc.module("--debug", "evaluate", "--model", tmp_path / "garbage.jaxbd", cwd=tmp_path)
    assert res.code == 2 and "Traceback (most recent call last)" in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("jaxbd evaluate: error: --model")
