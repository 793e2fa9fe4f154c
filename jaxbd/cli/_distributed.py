"""`--distributed`: run `jaxbd reproduce | run` as one process of a `jax.distributed` cluster.

Every process runs the same experiments with the same inputs (JAX's multi-controller model);
the sharded sweeps (`jaxbd.sharding.sharded_map`) split their batches over the devices of all
processes and every process gets the whole result back, so the numbers are those of one
process. Only process 0 writes the report. Without `--coordinator` JAX detects the cluster
itself (SLURM, Open MPI, Kubernetes, Cloud TPU: `jax.distributed.initialize()`); on CPU the
collectives are gloo's. See docs/distributed.md.
"""

from ._args import NONNEG_INT, POSITIVE_INT
from ._errors import RunFailure, UsageError


def add_flags(parser) -> None:
    g = parser.add_argument_group("several processes (jax.distributed; docs/distributed.md)")
    g.add_argument("--distributed", action="store_true",
                   help="join a jax.distributed cluster before any JAX work (the cluster is "
                   "detected by JAX: SLURM, Open MPI, Kubernetes, Cloud TPU; or give the "
                   "three flags below); process 0 writes the report")  # fmt: skip
    g.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address")
    g.add_argument("--num-processes", type=POSITIVE_INT, help="processes in the cluster")
    g.add_argument("--process-id", type=NONNEG_INT, help="this process, 0..num-processes-1")


def initialize(args) -> tuple[int, int]:
    """Join the cluster when `--distributed` (or any of its three flags) was given; returns
    `(process index, process count)` — `(0, 1)` for an ordinary run."""
    explicit = (args.coordinator, args.num_processes, args.process_id)
    if not args.distributed and all(v is None for v in explicit):
        return 0, 1
    if any(v is None for v in explicit) and any(v is not None for v in explicit):
        raise UsageError(
            "--coordinator, --num-processes and --process-id go together (give all three, or "
            "none and let JAX detect the cluster)."
        )
    if args.process_id is not None and args.process_id >= args.num_processes:
        raise UsageError(
            f"--process-id must be below --num-processes ({args.num_processes}), "
            f"got {args.process_id}."
        )
    import jax

    # CPU collectives (a no-op for GPU/TPU devices); must be set before the backend starts.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(
            coordinator_address=args.coordinator,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    except (RuntimeError, ValueError) as e:
        raise RunFailure(f"--distributed: jax.distributed.initialize failed ({e})") from e
    return jax.process_index(), jax.process_count()
