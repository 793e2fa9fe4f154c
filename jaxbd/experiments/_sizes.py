"""Run sizes shared by the experiments: the seeds and the settings of a quick or a full run."""

from ._core import Context


def run_seeds(ctx: Context, quick: int = 1, full: int = 3) -> list[int]:
    """The seeds of a run: `quick` of them for `--quick`, `full` otherwise, from `ctx.seed` on."""
    return [ctx.seed + i for i in range(quick if ctx.quick else full)]


def sized(ctx: Context, quick, full):
    """`quick` for a quick (smoke-sized) run, `full` otherwise."""
    return quick if ctx.quick else full
