"""Several processes under `jax.distributed` (gloo CPU collectives) give the one-process results.

Two local processes with 2 CPU devices each form one 4-device cluster; each passes the same host
inputs to the sharded sweeps (`sharded_map` with and without PRNG keys, smoothing batches,
CERTIFY, the memorizing candidate search, detection statistics of planted layers, RFF fits
over keys) and must get the *whole* result back, equal to one
process on 4 devices. Both runs are fresh subprocesses (a process can initialise
`jax.distributed` only once).
"""

import contextlib
import io
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest


WORKER = os.path.join(os.path.dirname(__file__), "scripts", "distributed_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(cmds, env, *, timeout: int) -> None:
    """Start every command at once (the processes of one cluster) and wait for all of them."""
    procs = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for c in cmds
    ]
    for p in procs:
        _, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-3000:]


def _run(tmp_path, nproc: int, part: str = "core"):
    port = str(_free_port())
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    cmds = [
        [sys.executable, WORKER, str(tmp_path / f"{part}-{nproc}-{i}.npz"), str(i), str(nproc),
         port, part]
        for i in range(nproc)
    ]  # fmt: skip
    _launch(cmds, env, timeout=900)
    return [dict(np.load(tmp_path / f"{part}-{nproc}-{i}.npz")) for i in range(nproc)]


def _compare(tmp_path, part: str) -> None:
    (ref,) = _run(tmp_path, 1, part)
    for got in _run(tmp_path, 2, part):
        assert set(got) == set(ref)
        for k in ref:
            assert got[k].shape == ref[k].shape, k  # the whole result, in every process
            np.testing.assert_array_equal(got[k], ref[k], err_msg=k)


@pytest.mark.slow  # two JAX start-ups and compilations: run by .ci/run's slow step
def test_two_processes_equal_one_process(tmp_path):
    _compare(tmp_path, "core")


@pytest.mark.slow
def test_detection_sweeps_under_two_processes_equal_one_process(tmp_path):
    _compare(tmp_path, "detect")


def _reproduce(tmp_path, nproc: int, experiment: str) -> dict:
    """`jaxbd reproduce --quick --only EXPERIMENT --distributed` in `nproc` local processes (4
    CPU devices in all); returns process 0's results.json. Only process 0 writes a report."""
    port = str(_free_port())
    outs = [tmp_path / f"report-{nproc}-{i}" for i in range(nproc)]
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={4 // nproc}",
               JAX_PLATFORMS="cpu", JAXBD_NO_COMPILE_CACHE="1")  # fmt: skip
    cmd = [sys.executable, "-m", "jaxbd", "reproduce", "--quick", "--only", experiment,
           "--no-progress"]  # fmt: skip
    dist = lambda i: ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(nproc),
                      "--process-id", str(i)]  # fmt: skip
    _launch([[*cmd, "--out", str(outs[i]), *(dist(i) if nproc > 1 else [])]
             for i in range(nproc)], env, timeout=1200)  # fmt: skip
    assert all(not o.exists() for o in outs[1:])  # the other processes write nothing
    return json.loads((outs[0] / "results.json").read_text())


def _numbers(doc: dict) -> list:
    """What an experiment measured: claims (measured, verdict, power), tables and data."""
    (exp,) = doc["experiments"]
    assert exp["error"] is None, exp["error"]
    claims = [(c["statement"], c["measured"], c["verdict"], c["power"]) for c in exp["claims"]]
    return [claims, exp["tables"], exp["data"]]


@pytest.mark.slow  # three quick finetune runs: run by .ci/run's slow step
def test_reproduce_under_two_processes_equals_one_process(tmp_path):
    # finetune: its seeds are fine-tuned by sharded_map over all devices (padding 3 -> 4).
    ref = _reproduce(tmp_path, 1, "finetune")
    got = _reproduce(tmp_path, 2, "finetune")
    assert len(got["devices"]) == len(ref["devices"]) == 4  # all processes' devices
    assert _numbers(got) == _numbers(ref)


def test_distributed_flags_are_checked():
    from jaxbd.cli import main

    for argv, needle in [
        (["--coordinator", "127.0.0.1:1"], "go together"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"],
         "--process-id must be below"),
    ]:  # fmt: skip
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["reproduce", "--quick", "--only", "rff", "--out", "unused", *argv])
        assert code == 2 and needle in err.getvalue(), err.getvalue()
