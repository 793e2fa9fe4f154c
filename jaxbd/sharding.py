r"""Spread a batched computation over every device with `jax.sharding`.

Sweeps in jaxbd (seeds × parameters, smoothing over many inputs, detection over many models)
are maps over a leading batch axis. [`sharded_map`][] runs such a map with the batch split over
a one-dimensional device `jax.sharding.Mesh` via a `jax.sharding.NamedSharding`: XLA
partitions the computation, there is no scheduler of ours. On one device it is `jit(vmap(fn))`.

**Several processes** (`jax.distributed`, one process per host or several per machine): call
`jax.distributed.initialize(...)` in every process before anything else (on CPU, also
`jax.config.update("jax_cpu_collectives_implementation", "gloo")`); then `jax.devices()` lists the
devices of all processes and [`batch_mesh`][] spans them. Every process calls `sharded_map` with
the same host inputs (a multi-controller program); each process places only its own devices'
slices (`jax.make_array_from_callback`) and, called eagerly, every process gets the **whole**
result back ([`to_host`][] gathers it with `multihost_utils.process_allgather`). Inside a `jit`
the result stays a global array: gather it at the boundary with [`to_host`][], as the smoothing
functions do. `tests/test_distributed.py` runs 2 processes with gloo CPU collectives and checks
the sharded sweeps against one process.

**Checking on CPU.** `XLA_FLAGS=--xla_force_host_platform_device_count=4` makes the host CPU show
up as 4 devices (set before JAX starts); the test suite uses it to check that sharded results
equal single-device results.
"""

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._validate import any_traced, check_int_range, checked_jit


__all__ = ["batch_mesh", "check_mesh", "sharded_map", "to_host"]

_AXIS = "batch"

# What pyright checks; at run time the library checks `devices`, `mesh` and `batch_size` itself
# (a ValueError naming them, a string or 1.5 included), not the import hook.
if TYPE_CHECKING:
    # stub gap: `jax.Device = _xc.Device` aliases a compiled class, a variable to pyright
    _Devices = Sequence[jax.Device] | None  # pyright: ignore[reportInvalidTypeForm]
    _Mesh = Mesh | None
    _BatchSize = int | None
else:
    _Devices = _Mesh = _BatchSize = object


def batch_mesh(
    devices: _Devices = None,
) -> Mesh:
    """A one-dimensional mesh named `"batch"` over `devices` (default: all of `jax.devices()`)."""
    if devices is None:
        devices = jax.devices()
    if isinstance(devices, (str, bytes, jax.Device)):
        raise ValueError(
            f"`devices` must be a sequence of jax.Device (e.g. jax.devices()), got {devices!r}."
        )
    try:
        devices = list(devices)
    except TypeError:
        raise ValueError(
            f"`devices` must be a sequence of jax.Device, got {type(devices).__name__}."
        ) from None
    if not devices:
        raise ValueError("`devices` is empty.")
    bad = [d for d in devices if not isinstance(d, jax.Device)]
    if bad:
        raise ValueError(f"`devices` must hold jax.Device objects, got {bad[0]!r}.")
    if len(set(devices)) != len(devices):
        raise ValueError("`devices` lists a device more than once.")
    return Mesh(np.asarray(devices), (_AXIS,))


def check_mesh(mesh) -> Mesh:
    """`mesh` as given, validated, or [`batch_mesh`][] over all devices when it is `None`.

    `ValueError` naming `mesh` unless it is a one-dimensional `jax.sharding.Mesh` with axis
    `"batch"` (what [`batch_mesh`][] builds).
    """
    if mesh is None:
        return batch_mesh()
    if not isinstance(mesh, Mesh) or mesh.axis_names != (_AXIS,):
        names = getattr(mesh, "axis_names", None)
        raise ValueError(
            f"`mesh` must be a one-dimensional jax.sharding.Mesh with axis {_AXIS!r} (see "
            f"jaxbd.sharding.batch_mesh), got {type(mesh).__name__} with axes {names}."
        )
    return mesh


def sharded_map(
    fn: Callable,
    *batched_args,
    mesh: _Mesh = None,
    batch_size: _BatchSize = None,
):
    """Compute `vmap(fn)(*batched_args)` with the leading axis sharded over `mesh`.

    **Arguments:**

    - `fn`: a function of one example (one slice of each batched argument); it may close over
      unbatched values (they are replicated). Must be jittable.
    - `*batched_args`: pytrees whose array leaves share the leading batch size `n`.
    - `mesh`: a one-dimensional mesh (default: [`batch_mesh`][] over all devices).
    - `batch_size`: if given, each device processes its share in chunks of this many examples
      (`lax.map`), bounding memory for large sweeps.

    **Returns:** the pytree `vmap(fn)(*batched_args)`, of leading size `n`. The batch is padded
    (by repeating the last example) to a multiple of the device count and the padding is dropped
    again; results equal the single-device ones (tested).
    """
    if not callable(fn):
        raise ValueError(f"`fn` must be a callable of one example, got {type(fn).__name__}.")
    leaves = jax.tree_util.tree_leaves(batched_args)
    if not leaves:
        raise ValueError("`sharded_map` needs at least one batched argument.")
    for leaf in leaves:
        if not hasattr(leaf, "shape") and not isinstance(leaf, (int, float, complex, bool)):
            raise ValueError(
                f"`batched_args` must be pytrees of arrays, got a leaf of type {type(leaf).__name__}."
            )
    sizes = {int(jnp.shape(leaf)[0]) if jnp.ndim(leaf) else -1 for leaf in leaves}
    if len(sizes) != 1 or -1 in sizes:
        raise ValueError(
            "every array in `batched_args` needs the same leading batch size, got "
            f"{sorted(sizes)} (-1: a scalar)."
        )
    (n,) = sizes
    if n == 0:
        raise ValueError("`batched_args` hold an empty batch (leading size 0).")
    if batch_size is not None:
        batch_size = check_int_range(batch_size, "batch_size", low=1)
    mesh = check_mesh(mesh)
    k = mesh.devices.size
    padded = -(-n // k) * k

    def pad(a):
        a = jnp.asarray(a)
        if padded == n:
            return a
        return jnp.concatenate([a, jnp.repeat(a[-1:], padded - n, axis=0)], axis=0)

    args = jax.tree_util.tree_map(pad, batched_args)
    sharding = NamedSharding(mesh, PartitionSpec(_AXIS))
    if _spans_processes(mesh) and not any_traced(args):
        args = jax.tree_util.tree_map(lambda a: _global(a, sharding), args)
        out = _run(fn, args, batch_size, mesh)
        return jax.tree_util.tree_map(lambda a: a[:n], to_host(out))
    args = jax.device_put(args, sharding)
    out = _run(fn, args, batch_size, mesh)
    return jax.tree_util.tree_map(lambda a: a[:n], out)


def _spans_processes(mesh: Mesh) -> bool:
    me = jax.process_index()
    return any(d.process_index != me for d in mesh.devices.flat)


def _global(a, sharding):
    """The same host value in every process -> one global array (each process places only
    the slices of its own devices)."""
    if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
        impl = jax.random.key_impl(a)
        return jax.random.wrap_key_data(_global(jax.random.key_data(a), sharding), impl=impl)
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def to_host(tree):
    """Arrays spread over several processes -> the whole value in every process (a no-op for
    arrays this process holds entirely, i.e. always with one process)."""
    from jax.experimental import multihost_utils

    def one(a):
        if isinstance(a, jax.core.Tracer):  # inside a trace: gather at the caller's boundary
            return a
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            if jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
                impl = jax.random.key_impl(a)
                return jax.random.wrap_key_data(one(jax.random.key_data(a)), impl=impl)
            return jnp.asarray(multihost_utils.process_allgather(a, tiled=True))
        return a

    return jax.tree_util.tree_map(one, tree)


@checked_jit  # checks as checkify values on concrete calls: JAX's persistent cache keeps it
def _run(fn, args, batch_size, mesh):
    def local(*shard):
        # Runs on each device's own slice of the batch: no cross-device traffic.
        if batch_size is None:
            return jax.vmap(fn)(*shard)
        if batch_size == 1:  # a plain scan: a vmap over one row lays matmuls out transposed
            return jax.lax.map(lambda a: fn(*a), shard)
        return jax.lax.map(lambda a: fn(*a), shard, batch_size=batch_size)

    spec = PartitionSpec(_AXIS)
    # check_vma=False: `fn` is written for one example and may run `lax.scan` with a constant
    # initial carry (Monte-Carlo counts, optimiser states); with the varying-axes check on, such
    # a carry would need an explicit `pcast` in every caller. Every input and output is split
    # along the batch axis and nothing crosses devices, so the check adds no safety here.
    return jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)(*args)
