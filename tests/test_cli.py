"""Tests for the `jaxbd` command line: plant -> activate -> evaluate, exit codes, messages."""

import functools
import importlib
import json
import os
import stat
import subprocess
import sys

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from helpers import tree_bitwise_equal

from jaxbd import cli, datasets, io, linear, metrics


def _have(name):
    try:
        importlib.import_module(f"jaxbd.{name}")
    except ModuleNotFoundError:
        return False
    return True


def _write_npz(path, n=120, d=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).astype(np.int64) + 3  # raw labels 3 / 4
    np.savez(path, x=x, y=y)
    return path


def _jaxbd(*args, cwd):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-m", "jaxbd.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


WIDTH, SPARSITY, THETA, STRENGTH, SEED = 32, 2, 5.0, 0.5, 3


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """`jaxbd plant relu` on a user .npz, then `activate` and `evaluate`, as subprocesses."""
    if not _have("relu"):
        pytest.skip("jaxbd.relu not built yet")
    tmp = tmp_path_factory.mktemp("e2e")
    data = _write_npz(tmp / "mine.npz")
    out = tmp / "run"
    runs = {}
    runs["plant"] = _jaxbd(
        "plant", "relu", "--data", data, "--out", out, "--width", WIDTH, "--sparsity",
        SPARSITY, "--theta", THETA, "--strength", STRENGTH, "--seed", SEED,
        "--head", "uniform", cwd=tmp,  # Alg. 7 literally: no head training to compile
    )  # fmt: skip
    assert runs["plant"].returncode == 0, runs["plant"].stderr
    runs["activate"] = _jaxbd("activate", "--key", out / "backdoor.key", "--input",
                              out / "test_inputs.npz", "--out", out / "act.npz", cwd=tmp)  # fmt: skip
    runs["evaluate"] = _jaxbd(
        "evaluate", "--model", out / "backdoored.jaxbd", "--honest", out / "honest.jaxbd",
        "--key", out / "backdoor.key", "--wrong-key", out / "wrong.key",
        "--json-out", out / "ev.json", cwd=tmp,
    )  # fmt: skip
    for name, r in runs.items():
        assert r.returncode == 0, (name, r.stderr)
    return tmp, out, data, runs


@pytest.mark.slow
def test_end_to_end_files_and_printed_paths(e2e):
    _, out, _, runs = e2e
    printed = dict(line.split(": ", 1) for line in runs["plant"].stdout.strip().splitlines())
    for role, name in [("honest", "honest.jaxbd"), ("backdoored", "backdoored.jaxbd"),
                       ("key", "backdoor.key"), ("wrong_key", "wrong.key"),
                       ("test_inputs", "test_inputs.npz")]:  # fmt: skip
        assert printed[role] == str(out / name) and os.path.exists(printed[role])
    assert stat.S_IMODE(os.stat(out / "backdoor.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out / "wrong.key").st_mode) == 0o600
    assert runs["activate"].stdout.strip() == f"activated: {out / 'act.npz'}"
    assert "| attack success rate (ASR) |" in runs["evaluate"].stdout
    assert "| gap: ASR - max(control) |" in runs["evaluate"].stdout
    assert f"json: {out / 'ev.json'}" in runs["evaluate"].stdout
    assert "[jaxbd]" in runs["plant"].stderr  # progress goes to stderr


def test_plant_ties_models_and_keys_by_plant_id(e2e):
    _, out, _, _ = e2e
    ids = {io.read_header(out / f)["hyperparameters"]["plant_id"]
           for f in ("honest.jaxbd", "backdoored.jaxbd", "backdoor.key", "wrong.key")}  # fmt: skip
    assert len(ids) == 1 and len(ids.pop()) == 16


def test_end_to_end_numbers_match_library(e2e):
    _, out, data, _ = e2e
    relu = importlib.import_module("jaxbd.relu")
    ds = datasets.load_arrays(data, normalize="unit_norm")  # relu's default normalisation
    honest, bd = io.load(out / "honest.jaxbd"), io.load(out / "backdoored.jaxbd")
    key, wrong = io.load_key(out / "backdoor.key"), io.load_key(out / "wrong.key")
    act = functools.partial(relu.activate, key, strength=STRENGTH)
    with np.load(out / "test_inputs.npz") as f:
        np.testing.assert_array_equal(f["x"], np.asarray(ds.x_test))
    with np.load(out / "act.npz") as f:
        np.testing.assert_array_equal(f["x"], np.asarray(jax.vmap(act)(ds.x_test)))
    got = json.loads((out / "ev.json").read_text())
    want = metrics.evaluate_backdoor(
        jr.key(0), honest, bd, act, ds.x_test, ds.y_test, target=1.0,
        wrong_activate=functools.partial(relu.activate, wrong, strength=STRENGTH),
    ).as_dict()  # fmt: skip
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k


def test_sanity_warnings_agree_with_the_numbers(e2e):
    """plant warns iff the honest model is within 2 pp of the majority-class rate; evaluate
    flags iff ASR - max(control) < 0.5 (one `[jaxbd] warning:` line each)."""
    _, out, _, runs = e2e
    honest = io.load(out / "honest.jaxbd")
    with np.load(out / "test_inputs.npz") as f:
        x, y = jnp.asarray(f["x"]), f["y"]
    majority = np.unique(y, return_counts=True)[1].max() / y.size
    near = metrics.clean_accuracy(honest, x, jnp.asarray(y)) <= majority + 0.02
    warned = [ln for ln in runs["plant"].stderr.splitlines() if "majority-class rate" in ln]
    assert len(warned) == int(near) and all(ln.startswith("[jaxbd] warning: ") for ln in warned)
    ev = json.loads((out / "ev.json").read_text())
    controls = [ev[k] for k in ("control_honest", "control_random", "control_wrong_key")]
    assert ev["asr_gap"] == pytest.approx(ev["asr"] - max(controls))
    flagged = [ln for ln in runs["evaluate"].stderr.splitlines() if "ASR - max(control)" in ln]
    assert len(flagged) == int(ev["asr_gap"] < 0.5)
    assert all(ln.startswith("[jaxbd] warning: ") for ln in flagged)


def test_end_to_end_files_hold_the_library_models(e2e):
    _, out, data, _ = e2e
    relu = importlib.import_module("jaxbd.relu")
    ds = datasets.load_arrays(data, normalize="unit_norm")
    k1, k2 = jr.split(jr.key(SEED))
    # the CLI plants through the registry's ReLU construction (here with --head uniform)
    honest = relu.train(k1, ds.x_train, ds.y_train, width=WIDTH, head="uniform")
    bd, key = relu.backdoor(k2, ds.x_train, ds.y_train, width=WIDTH, sparsity=SPARSITY,
                            theta=THETA, head="uniform")  # fmt: skip
    assert tree_bitwise_equal(io.load(out / "honest.jaxbd"), honest)
    assert tree_bitwise_equal(io.load(out / "backdoored.jaxbd"), bd)
    assert tree_bitwise_equal(io.load_key(out / "backdoor.key"), key)


@pytest.mark.slow  # ~30 s on 2 busy cores (candidate-search compile)
@pytest.mark.skipif(not _have("memorizing"), reason="jaxbd.memorizing not built yet")
def test_memorizing_workflow_in_process(tmp_path, capsys):
    data = _write_npz(tmp_path / "mine.npz", n=80, d=5)
    out = tmp_path / "mem"
    rc = cli.main(["plant", "memorizing", "--data", str(data), "--out", str(out),
                   "--num-candidates", "64", "--eps", "1e-3"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert (out / "wrong.key").exists()  # a trigger point that was never planted (control)
    res = cli.evaluate(
        cli_args(["evaluate", "--model", str(out / "backdoored.jaxbd"),
                  "--honest", str(out / "honest.jaxbd"), "--key", str(out / "backdoor.key")])
    )  # fmt: skip
    assert res["asr"] == 1.0 and res["control_honest"] == 0.0  # the trigger is the key
    assert res["clean_accuracy_backdoored"] == pytest.approx(
        res["clean_accuracy_honest"], abs=0.05
    )


def cli_args(argv):
    return cli.build_parser().parse_args(argv)


# --------------------------------------------------------------------------- bad input


def _fail(argv, capsys, code=2):
    rc = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == code, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("[jaxbd]")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def planted(e2e):
    """The folder holding the planted run of the end-to-end fixture."""
    return e2e[0]


def test_bad_inputs_give_one_line_errors(planted, tmp_path, capsys):
    run = planted / "run"
    key, model = run / "backdoor.key", run / "backdoored.jaxbd"
    msg = _fail(["plant", "nonsense", "--data", "iris", "--out", tmp_path], capsys)
    assert "unknown construction 'nonsense'" in msg
    msg = _fail(["plant", "memorizing", "--data", tmp_path / "nope.npz", "--out", tmp_path],
                capsys)  # fmt: skip
    assert "not a bundled dataset" in msg
    np.savez(tmp_path / "noy.npz", x=np.zeros((4, 2)))
    msg = _fail(["plant", "memorizing", "--data", tmp_path / "noy.npz", "--out", tmp_path], capsys)
    assert "no array 'y'" in msg
    msg = _fail(["activate", "--key", model, "--input", run / "test_inputs.npz", "--out",
                 tmp_path / "a.npz"], capsys)  # fmt: skip
    assert "model file, not a backdoor-key file" in msg
    np.save(tmp_path / "wrongdim.npy", np.zeros((3, 2)))
    msg = _fail(["activate", "--key", key, "--input", tmp_path / "wrongdim.npy", "--out",
                 tmp_path / "a.npz"], capsys)  # fmt: skip
    assert "2 features but the key was made for 8" in msg
    np.savez(tmp_path / "nox.npz", z=np.zeros((3, 6)))
    msg = _fail(["activate", "--key", key, "--input", tmp_path / "nox.npz", "--out",
                 tmp_path / "a.npz"], capsys)  # fmt: skip
    assert "no array 'x'" in msg
    np.save(tmp_path / "nan.npy", np.full((2, 6), np.nan))
    msg = _fail(["activate", "--key", key, "--input", tmp_path / "nan.npy", "--out",
                 tmp_path / "a.npz"], capsys)  # fmt: skip
    assert "NaN" in msg
    bad = tmp_path / "trunc.key"
    bad.write_bytes(key.read_bytes()[:40])
    msg = _fail(["evaluate", "--model", model, "--key", bad], capsys)
    assert "truncated" in msg
    corrupt = tmp_path / "corrupt.jaxbd"
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    corrupt.write_bytes(bytes(data))
    msg = _fail(["evaluate", "--model", corrupt], capsys)
    assert "checksum" in msg
    with pytest.raises(SystemExit) as e:  # argparse usage errors are exit code 2 too
        cli.main(["activate", "--key", str(key)])
    assert e.value.code == 2
    capsys.readouterr()


def test_evaluate_without_key_reports_clean_accuracy(planted, capsys):
    run = planted / "run"
    rc = cli.main(["evaluate", "--model", str(run / "backdoored.jaxbd"), "--honest",
                   str(run / "honest.jaxbd")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "clean accuracy (backdoored)" in out and "ASR" not in out


@pytest.mark.skipif(not _have("finetune"), reason="jaxbd.finetune not built yet")
def test_finetune_command_saves_a_loadable_model(planted, capsys):
    run = planted / "run"
    rc = cli.main(["finetune", "--model", str(run / "backdoored.jaxbd"), "--steps", "3",
                   "--out", str(run / "tuned.jaxbd")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and out.strip() == f"finetuned: {run / 'tuned.jaxbd'}"
    tuned = io.load(run / "tuned.jaxbd")
    assert type(tuned) is type(io.load(run / "backdoored.jaxbd"))
    assert io.read_header(run / "tuned.jaxbd")["hyperparameters"]["finetune"]["steps"] == 3


@pytest.mark.parametrize("command", ["plant", "activate", "evaluate", "finetune"])
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and f"jaxbd {command}" in out and "exit codes" in out


def test_read_inputs_accepts_single_example_npy(tmp_path):
    np.save(tmp_path / "one.npy", np.arange(4.0))
    assert cli.read_inputs(str(tmp_path / "one.npy")).shape == (1, 4)


def test_file_of_the_old_cli_layout_still_loads(tmp_path, capsys):
    """`tests/data/cli_old_layout_linear.jaxbd`: the honest model of `jaxbd plant checksum
    --data digits --classes 3 8` written by the CLI before `jaxbd/_cli_workflow.py` became
    `jaxbd/cli/` (it names `jaxbd._cli_workflow.LinearClassifier`)."""
    import pathlib

    old = pathlib.Path(__file__).parent / "data" / "cli_old_layout_linear.jaxbd"
    assert b"jaxbd._cli_workflow.LinearClassifier" in old.read_bytes()
    model = io.load(old)
    assert type(model) is linear.LinearClassifier
    res = cli.evaluate(cli_args(["evaluate", "--model", str(old)]))  # its recorded data
    ds = datasets.load("digits", classes=(3, 8))
    assert res["clean_accuracy_backdoored"] == metrics.clean_accuracy(model, ds.x_test, ds.y_test)
    assert res["clean_accuracy_backdoored"] > 0.9
    io.save(tmp_path / "again.jaxbd", model)  # re-saved under its public name
    assert b"jaxbd.linear.LinearClassifier" in (tmp_path / "again.jaxbd").read_bytes()


def test_detect_dispatches_through_the_registry(planted, capsys):
    """Registered distinguishers (a user's too) run as `cls(alpha, **fields)(w, key)`, with
    their fields as flags; names resolve by unique prefix."""
    from cli_toys import SupportMax, registered

    from jaxbd import detect

    run = planted / "run"
    json_out = run / "detect.json"
    model = str(run / "backdoored.jaxbd")
    with registered(SupportMax):
        rc = cli.main(["detect", "--model", model, "--tests", "spec", "toy-support-max",
                       "--support-size", "3", "--seed", "5", "--json-out", str(json_out)])  # fmt: skip
        out = capsys.readouterr().out
        assert rc == 0 and "| spectral |" in out and "| toy-support-max |" in out
        with pytest.raises(SystemExit):
            cli.main(["detect", "--help"])
        helptext = " ".join(capsys.readouterr().out.split())
        assert "toy-support-max a user's distinguisher (CLI tests)" in helptext
        assert "--support-size" in helptext and "toy-support-max: columns read" in helptext
        msg = _fail(["detect", "--model", model, "--tests", "toy-support-max"], capsys)
        assert msg.startswith("jaxbd detect: error: --support-size: toy-support-max needs")
        msg = _fail(["detect", "--model", model, "--support-size", "2"], capsys)
        assert "--support-size: does not apply to --tests" in msg
    got = json.loads(json_out.read_text())["tests"]
    g = io.load(run / "backdoored.jaxbd").g  # the auto-chosen first layer of a RandomReLU
    assert got["spectral"]["p_value"] == pytest.approx(detect.spectral(g).p_value)
    want = SupportMax(support_size=3)(g, key=jr.fold_in(jr.key(5), 1))
    assert got["toy-support-max"]["statistic"] == pytest.approx(want.statistic)
    assert got["toy-support-max"]["found"] == {"support": [0, 1, 2]}
    assert "toy-support-max" not in detect.names()  # registered only inside the block
    msg = _fail(["detect", "--model", model, "--weights", "nope"], capsys)
    assert "no 'nope'" in msg


@pytest.mark.skipif(not _have("smoothing"), reason="jaxbd.smoothing not built yet")
def test_certify_matches_library(planted, capsys):
    from jaxbd import smoothing

    run = planted / "run"
    rc = cli.main(["certify", "--model", str(run / "backdoored.jaxbd"), "--input",
                   str(run / "act.npz"), "--sigma", "0.25", "--n0", "10", "--num-samples",
                   "50", "--alpha", "0.1", "--max-examples", "4", "--out",
                   str(run / "certs.npz")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and f"certificates: {run / 'certs.npz'}" in out
    with np.load(run / "act.npz") as f:
        x = jnp.asarray(f["x"][:4])
    labels, radii = smoothing.certify_batch(
        jr.key(0), io.load(run / "backdoored.jaxbd"), x, sigma=0.25, n0=10, num_samples=50,
        alpha=0.1,
    )  # fmt: skip
    with np.load(run / "certs.npz") as f:
        np.testing.assert_array_equal(f["label"], np.asarray(labels))
        np.testing.assert_array_equal(f["radius"], np.asarray(radii))


@pytest.mark.skipif(not _have("signature"), reason="jaxbd.signature not built yet")
def test_signature_workflow_in_process(tmp_path, capsys):
    data = _write_npz(tmp_path / "wide.npz", n=60, d=64)
    out = tmp_path / "sig"
    rc = cli.main(["plant", "signature", "--data", str(data), "--out", str(out),
                   "--base-steps", "0"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert b"-----BEGIN PRIVATE KEY-----" in (out / "backdoor.key").read_bytes()
    assert b"PRIVATE KEY" not in (out / "backdoored.jaxbd").read_bytes()
    res = cli.evaluate(
        cli_args(["evaluate", "--model", str(out / "backdoored.jaxbd"), "--honest",
                  str(out / "honest.jaxbd"), "--key", str(out / "backdoor.key"),
                  "--wrong-key", str(out / "wrong.key"), "--target", "-1"])
    )  # fmt: skip
    assert res["target"] == -1.0 and res["asr"] == 1.0
    assert res["control_wrong_key"] < 0.5 and res["control_random"] < 0.5
    controls = [res[k] for k in ("control_honest", "control_random", "control_wrong_key")]
    assert res["asr_gap"] == pytest.approx(1.0 - max(controls)) and res["asr_gap"] > 0.5


def test_runtime_failure_is_exit_code_1(planted, monkeypatch, capsys):

    from jaxbd import constructions

    def boom(self, key, x, y):
        raise RuntimeError("out of device memory\nsecond line")

    monkeypatch.setattr(constructions.Memorizing, "plant", boom)
    msg = _fail(["plant", "memorizing", "--data", planted / "mine.npz", "--out",
                 planted / "boom"], capsys, code=1)  # fmt: skip
    assert msg.startswith("jaxbd plant: failed: RuntimeError: out of device memory second line")
    assert msg.endswith("(run with --debug for the traceback)")


def test_evaluate_flags_a_gap_below_one_half(planted, capsys):
    """Strength 0 activates nothing: ASR equals the random control (same l0/l2 = 0), so the
    gap is 0 and evaluate says so, in one warning line."""
    run = planted / "run"
    rc = cli.main(["evaluate", "--model", str(run / "backdoored.jaxbd"), "--honest",
                   str(run / "honest.jaxbd"), "--key", str(run / "backdoor.key"),
                   "--strength", "0"])  # fmt: skip
    cap = capsys.readouterr()
    warned = [ln for ln in cap.err.splitlines() if "ASR - max(control)" in ln]
    assert rc == 0 and len(warned) == 1 and warned[0].startswith("[jaxbd] warning: ASR - max")
    assert "| gap: ASR - max(control) |" in cap.out


def test_plant_warns_near_the_majority_rate(planted, tmp_path, monkeypatch, capsys):
    with np.load(planted / "run" / "test_inputs.npz") as f:
        y = f["y"]
    majority = float(np.unique(y, return_counts=True)[1].max() / y.size)
    argv = ["plant", "relu", "--data", str(planted / "mine.npz"), "--width", str(WIDTH),
            "--head", "uniform", "--no-wrong-key"]  # fmt: skip
    for acc, warns in ((majority + 0.015, True), (majority + 0.03, False)):
        monkeypatch.setattr(metrics, "clean_accuracy", lambda m, x, y, a=acc: a)
        assert cli.main([*argv, "--out", str(tmp_path / f"{acc}")]) == 0
        err = capsys.readouterr().err.splitlines()
        warned = [ln for ln in err if "majority-class rate" in ln]
        assert len(warned) == int(warns), err
        assert all(ln.startswith("[jaxbd] warning: the honest model") for ln in warned)


def test_evaluate_with_explicit_data_inherits_normalisation(planted):
    run = planted / "run"
    args = cli_args(["evaluate", "--model", str(run / "backdoored.jaxbd"), "--data",
                     str(planted / "mine.npz")])  # fmt: skip
    header = io.read_header(run / "backdoored.jaxbd")
    assert cli.model_data_spec(args, header)["normalize"] == "unit_norm"  # relu's default
    res = cli.evaluate(args)
    ds = datasets.load_arrays(planted / "mine.npz", normalize="unit_norm")
    bd = io.load(run / "backdoored.jaxbd")
    assert res["clean_accuracy_backdoored"] == metrics.clean_accuracy(bd, ds.x_test, ds.y_test)
