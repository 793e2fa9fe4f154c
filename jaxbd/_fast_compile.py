"""Compile settings for runs made of many small programs, each run once or twice.

`reproduce --quick` and the default test suite compile about a thousand programs and run most of
them once, so compilation, not execution, is their cost. Two settings cut it:

- `jax_disable_most_optimizations` (JAX's own flag: XLA's backend optimisation level 0);
- XLA:CPU's legacy elemental emitters instead of its newer MLIR fusion emitters
  (`--xla_cpu_use_fusion_emitters=false` in `$XLA_FLAGS`). On 2 cores this cut the CPU time of
  compiling one-operation programs and a small training loop by about 40 % (measured with
  `time.process_time`, 2026-12-02, jaxlib 0.10.2). It only affects CPU code generation.

XLA reads `$XLA_FLAGS` once, when JAX starts its backends, and aborts the process on a flag it
does not know, so the flag is added only before the backends start, only for the jaxlib
versions checked to have it, and never over a value the user set.
"""

import os
from collections.abc import MutableMapping


CPU_LEGACY_EMITTERS = "--xla_cpu_use_fusion_emitters=false"

# jaxlib releases whose XLA defines the flag (read from their binaries: 0.6.0, 0.10.2); outside
# this range it is not added, since an unknown flag would abort the process.
_CHECKED_JAXLIB = ((0, 6), (0, 10))


def _jaxlib_version() -> tuple[int, int]:
    import jaxlib

    major, minor = jaxlib.__version__.split(".")[:2]
    return int(major), int(minor)


def _backends_started() -> bool:
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def use_cpu_legacy_emitters(environ: MutableMapping[str, str] | None = None) -> bool:
    """Add [`CPU_LEGACY_EMITTERS`][] to `$XLA_FLAGS` where it is safe (see the module
    docstring). **Returns** whether the flag is in effect for this process (`False` when the
    user's `$XLA_FLAGS` already names `xla_cpu_use_fusion_emitters`: theirs wins, whatever it
    says, and is not reported as ours)."""
    env = os.environ if environ is None else environ
    flags = env.get("XLA_FLAGS", "")
    if "xla_cpu_use_fusion_emitters" in flags:
        return False
    low, high = _CHECKED_JAXLIB
    if not low <= _jaxlib_version() <= high or _backends_started():
        return False
    env["XLA_FLAGS"] = f"{flags} {CPU_LEGACY_EMITTERS}".strip()
    return True


def legacy_emitters_in_effect() -> bool:
    """Whether `$XLA_FLAGS` selects XLA:CPU's legacy emitters (for the report)."""
    return CPU_LEGACY_EMITTERS in os.environ.get("XLA_FLAGS", "").split()
