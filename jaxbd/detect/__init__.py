r"""White-box and black-box distinguishers for the planted backdoors (GKVZ §5–6, App. A).

Each distinguisher is a final [`AbstractDistinguisher`][] (a traced statistic, a host p-value and
its calibration; `_abstract.py`) in its own module, registered by name ([`get`][], [`names`][]) for
the CLI and the detection sweeps; the functions below are thin wrappers returning a
[`Detection`][]:

- `gaussianity` — KS tests of coordinates and random projections (Bonferroni/Holm).
- `spectral` — top eigenvalue vs the Tracy–Widom law (Johnstone 2001), the BBP detector.
- [`diagonal_thresholding`][], [`covariance_thresholding`][] — sparse PCA (Johnstone–Lu,
  Deshpande–Montanari), with support recovery.
- `pancakes` — periodicity along enumerated sparse candidate secrets.
- [`lattice_attack`][] — LLL recovery of the CLWE secret at tiny noise (Song–Zadik–Bruna).
- [`sparse_lattice_attack`][] — the same LLL attack on the columns of every candidate support
  of a $k$-sparse secret (Bonferroni over the supports tried).
- [`probe`][] — black-box agreement with an honestly retrained model.
- [`regime_warnings`][] — which of these detect a construction at given parameters.

Registered final classes (`names()`): [`Gaussianity`][] `"gaussianity"`, [`Spectral`][]
`"spectral"`, [`DiagonalThresholding`][] `"diagonal_thresholding"`, [`CovarianceThresholding`][]
`"covariance_thresholding"`, [`Pancakes`][] `"pancakes"`, [`LatticeAttack`][] `"lattice"`,
[`SparseLatticeAttack`][] `"sparse_lattice"`. The black-box [`probe`][] is a function, not a
distinguisher class: it tests two models by queries, not a weight matrix.

`jaxbd.detect.planted` samples honest and planted first layers directly (the tests and the
detection experiment use it).
"""

from . import planted as planted
from ._abstract import (
    AbstractDistinguisher as AbstractDistinguisher,
    get as get,
    names as names,
    register as register,
    registry as registry,
)
from ._result import Detection as Detection
from ._tracy_widom import tracy_widom1_cdf as tracy_widom1_cdf, tracy_widom1_sf as tracy_widom1_sf
from .blackbox import probe as probe
from .gaussianity import Gaussianity as Gaussianity, gaussianity as gaussianity
from .lattice import LatticeAttack as LatticeAttack, lattice_attack as lattice_attack
from .pancakes import Pancakes as Pancakes, pancakes as pancakes
from .regime import (
    DetectableRegimeWarning as DetectableRegimeWarning,
    regime_warnings as regime_warnings,
    warn_if_detectable as warn_if_detectable,
)
from .sparse_lattice import (
    SparseLatticeAttack as SparseLatticeAttack,
    sparse_lattice_attack as sparse_lattice_attack,
)
from .sparse_pca import (
    CovarianceThresholding as CovarianceThresholding,
    DiagonalThresholding as DiagonalThresholding,
    covariance_thresholding as covariance_thresholding,
    diagonal_thresholding as diagonal_thresholding,
)
from .spectral import Spectral as Spectral, bbp_threshold as bbp_threshold, spectral as spectral


__all__ = [
    "AbstractDistinguisher",
    "Detection",
    "Gaussianity",
    "Spectral",
    "DiagonalThresholding",
    "CovarianceThresholding",
    "Pancakes",
    "LatticeAttack",
    "SparseLatticeAttack",
    "get",
    "names",
    "register",
    "registry",
    "bbp_threshold",
    "covariance_thresholding",
    "diagonal_thresholding",
    "gaussianity",
    "lattice_attack",
    "pancakes",
    "probe",
    "regime_warnings",
    "sparse_lattice_attack",
    "spectral",
    "tracy_widom1_cdf",
    "tracy_widom1_sf",
]
