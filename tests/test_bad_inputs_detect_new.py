"""Bad-input rows for the distinguisher classes and the sparse lattice attack (`jaxbd.detect`),
and for the public planted-weight samplers (`jaxbd.detect.planted`)."""

import jax.numpy as jnp
import jax.random as jr
import pytest
from badinput import Row, check_row

from jaxbd import detect
from jaxbd.detect import planted
from jaxbd.detect.regime import support_cost_s
from jaxbd.detect.sparse_lattice import choose_supports, default_rows


W = jr.normal(jr.key(0), (64, 6))
W_NAN = W.at[2, 1].set(jnp.nan)
_s = "jaxbd.detect.sparse_lattice_attack"
r = Row
ROWS = [
    r(_s, "support_size", "above dim", lambda: detect.sparse_lattice_attack(W, support_size=7), ("`support_size`", "exceeds")),
    r(_s, "support_size", "zero", lambda: detect.sparse_lattice_attack(W, support_size=0), ("`support_size`",)),
    r(_s, "support_size", "str", lambda: detect.sparse_lattice_attack(W, support_size="2"), ("`support_size`",)),
    r(_s, "w", "nan", lambda: detect.sparse_lattice_attack(W_NAN, support_size=2), ("`w`", "NaN")),
    r(_s, "w", "too few rows", lambda: detect.sparse_lattice_attack(W[:20], support_size=2), ("`w`", "rows")),
    r(_s, "max_subsets", "zero", lambda: detect.sparse_lattice_attack(W, support_size=2, max_subsets=0), ("`max_subsets`",)),
    r(_s, "shift", "not a half-integer", lambda: detect.sparse_lattice_attack(W, support_size=2, shift=0.3), ("`shift`",)),
    r(_s, "alpha", "above one", lambda: detect.sparse_lattice_attack(W, support_size=2, alpha=1.5), ("`alpha`",)),
    r(_s, "num_samples", "below k + 1", lambda: detect.sparse_lattice_attack(W, support_size=3, num_samples=3), ("`num_samples`",)),
    r("jaxbd.detect.SparseLatticeAttack", "chunk", "zero", lambda: detect.SparseLatticeAttack(support_size=2, chunk=0), ("`chunk`",)),
    r("jaxbd.detect.SparseLatticeAttack", "scales", "empty", lambda: detect.SparseLatticeAttack(scales=()), ("`scales`",)),
    r("jaxbd.detect.sparse_lattice.choose_supports", "max_subsets", "needed", lambda: choose_supports(jr.key(0), 200, 6, None), ("`max_subsets`",)),
    r("jaxbd.detect.sparse_lattice.default_rows", "support_size", "zero", lambda: default_rows(0), ("`support_size`",)),
    r("jaxbd.detect.regime.support_cost_s", "support_size", "zero", lambda: support_cost_s(0), ("`support_size`",)),
    r("jaxbd.detect.Gaussianity", "num_projections", "negative", lambda: detect.Gaussianity(num_projections=-1), ("`num_projections`",)),
    r("jaxbd.detect.Gaussianity.__call__", "w", "too few rows", lambda: detect.Gaussianity()(W[:4]), ("`w`", "rows")),
    r("jaxbd.detect.DiagonalThresholding", "alpha", "zero", lambda: detect.DiagonalThresholding(alpha=0.0), ("`alpha`",)),
    r("jaxbd.detect.CovarianceThresholding", "num_null", "too small for alpha", lambda: detect.CovarianceThresholding(num_null=9), ("`num_null`",)),
    r("jaxbd.detect.CovarianceThresholding", "tau", "negative", lambda: detect.CovarianceThresholding(tau=-1.0), ("`tau`",)),
    r("jaxbd.detect.CovarianceThresholding.__call__", "sparsity", "above dim", lambda: detect.CovarianceThresholding(sparsity=9, num_null=19)(W), ("`sparsity`",)),
    r("jaxbd.detect.Pancakes", "support_size", "zero", lambda: detect.Pancakes(support_size=0), ("`support_size`",)),
    r("jaxbd.detect.Pancakes.batch", "support_size", "above dim", lambda: detect.Pancakes(support_size=7).batch(jr.key(0), W[None]), ("`support_size`",)),
    r("jaxbd.detect.Pancakes.__call__", "max_candidates", "too many", lambda: detect.Pancakes(support_size=3, max_candidates=10)(W), ("`max_candidates`",)),
    r("jaxbd.detect.LatticeAttack", "shift", "not a half-integer", lambda: detect.LatticeAttack(shift=0.25), ("`shift`",)),
    r("jaxbd.detect.LatticeAttack.__call__", "w", "too few rows", lambda: detect.LatticeAttack()(W[:20]), ("`w`", "rows")),
    r("jaxbd.detect.planted.honest_weights", "num_units", "zero", lambda: planted.honest_weights(jr.key(0), 0, 4), ("`num_units`",)),
    r("jaxbd.detect.planted.honest_weights", "key", "not a key", lambda: planted.honest_weights("k", 8, 4), ("`key`",)),
    r("jaxbd.detect.planted.spiked_weights", "dim", "zero", lambda: planted.spiked_weights(jr.key(0), 8, 0, sparsity=1, theta=1.0), ("`dim`",)),
    r("jaxbd.detect.planted.pancake_weights", "num_units", "negative", lambda: planted.pancake_weights(jr.key(0), -3, 4, secret_dim=1, beta=0.1), ("`num_units`",)),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_bad_input(row):
    check_row(row)
