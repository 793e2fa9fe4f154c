"""Run a script in a fresh Python on 4 forced CPU devices (`XLA_FLAGS=
--xla_force_host_platform_device_count=4`): the sharded-equals-single-device tests."""

import os
import subprocess
import sys


def run_on_four_cpu_devices(script: str, *, timeout: float = 300) -> str:
    """Run `script` (`python -c`) on 4 CPU devices; assert it exits 0 (showing the end of its
    stderr otherwise) and printed a line starting with `OK`. **Returns:** its stdout."""
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("OK"), proc.stdout[-3000:]
    return proc.stdout
