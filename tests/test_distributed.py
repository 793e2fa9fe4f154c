"""Several processes under `jax.distributed` (gloo CPU collectives) give the one-process results.

Two local processes with 2 CPU devices each form one 4-device cluster; each passes the same host
inputs to the sharded sweeps (`sharded_map` with and without PRNG keys, smoothing batches,
CERTIFY, the memorizing candidate search) and must get the *whole* result back, equal to one
process on 4 devices. Both runs are fresh subprocesses (a process can initialise
`jax.distributed` only once).
"""

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


def _run(tmp_path, nproc: int):
    port = str(_free_port())
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, str(tmp_path / f"{nproc}-{i}.npz"), str(i), str(nproc), port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for i in range(nproc)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    return [dict(np.load(tmp_path / f"{nproc}-{i}.npz")) for i in range(nproc)]


@pytest.mark.slow  # two JAX start-ups and compilations: run by .ci/run's slow step
def test_two_processes_equal_one_process(tmp_path):
    (ref,) = _run(tmp_path, 1)
    for got in _run(tmp_path, 2):
        assert set(got) == set(ref)
        for k in ref:
            assert got[k].shape == ref[k].shape, k  # the whole result, in every process
            np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
