r"""Evaluation-time immunization: Gaussian smoothing, PREDICT and CERTIFY.

Goldwasser–Kim–Vaikuntanathan–Zamir, *Planting Undetectable Backdoors*, §2.5 and §7
(Theorem 7.1, Lemmas 7.4, 7.6, 7.7), and Cohen, Rosenfeld & Kolter, *Certified Adversarial
Robustness via Randomized Smoothing* (ICML 2019), Algorithms PREDICT and CERTIFY.

The defender never trusts the model $h$. It answers with the smoothed model
$\tilde h(x) = \mathbb E_{t\sim N(0,\sigma^2 I)}\, h(x + t)$ (§7), estimated by Monte Carlo.

**Which outputs are smoothed** (`output=` of [`smooth`][]). The paper's theorem is for bounded
regression outputs $h: \mathbb R^d \to [-1, 1]$ (Theorem 7.1, $Y \subseteq [-1, 1]$); every
guarantee uses $|h| \le 1$. Since the model is adversarial, the bound is *enforced*, not assumed:

- `"sign"` (default for a scalar score): $h = \mathrm{sign}(\text{model})$ with $0 \mapsto +1$
  (the label convention of [`jaxbd.metrics.predict`][]); $\tilde h(x) = 2P[\text{label} = +1] - 1$.
- `"clip"`: a bounded regression model, $h = \mathrm{clip}(\text{model}, -B, B)$ with `bound=B`
  (element-wise for vector outputs). A model that promises $|h| \le B$ is unchanged; one that
  lies cannot break Lemma 7.6.
- `"onehot"` (default for logits): $h = \mathrm{onehot}(\arg\max\,\text{logits})$, so
  $\tilde h(x)$ is the vector of class probabilities under noise (each coordinate in $[0, 1]$).

**Sample size** (Lemma 7.4, Hoeffding). For $h \in [-B, B]$ and $k$ independent draws,
$P(|\hat y - \tilde h(x)| \ge \varepsilon) \le 2\exp(-k\varepsilon^2 / (2B^2))$; the paper
states the case $B = 1$, $\varepsilon = 0.01$. See [`hoeffding_num_samples`][] and
[`hoeffding_error`][].

**Lipschitz bound** (Lemma 7.6). For $|h| \le 1$: $|\tilde h(x) - \tilde h(y)| \le
\frac{e\sqrt 2}{\sigma}\|x - y\|$ (ℓ2). The statement is true, but one step of the paper's proof
is not: it claims $|\,\|u + x - y\|^2 - \|u\|^2| \le \|x - y\|^2$, which fails for large $u$
(the cross term $2\langle u, x - y\rangle$ is unbounded). The exact constant follows from the
total-variation distance of two Gaussians, $\int|\varphi(s - x) - \varphi(s - y)|\,ds =
2(2\Phi(\|x - y\| / 2\sigma) - 1) \le \sqrt{2/\pi}\,\|x - y\| / \sigma$, so the tight constant is
$\sqrt{2/\pi}/\sigma \approx 0.80/\sigma$, below the paper's $e\sqrt 2/\sigma \approx 3.84/\sigma$.
[`lipschitz_bound`][] returns either (`constant="paper"` or `"tight"`), times $B$ for $|h| \le B$.

**PREDICT / CERTIFY** (Cohen et al.). For a classifier (scalar score: labels ±1; logits: labels
`0..c-1`), the smoothed classifier returns the most likely label under noise.
[`predict`][] abstains unless a two-sided binomial test of the top-two counts rejects equality at
level `alpha` (p-value of `scipy.stats.binomtest(n_A, n_A + n_B, 0.5)`, computed in closed form
as $\min(1, 2F(\min(n_A, n_B)))$ with $F$ the Binomial$(n_A+n_B, 1/2)$ CDF — identical values,
vectorised, tested against `binomtest`). [`certify`][] picks the class with `n0` draws, then
with `num_samples` fresh draws computes the one-sided Clopper–Pearson lower bound
$\underline{p_A}$ = `scipy.stats.beta.ppf(alpha, k, n - k + 1)` ($0$ when $k = 0$) and returns
the label with radius $\sigma\,\Phi^{-1}(\underline{p_A})$ if $\underline{p_A} > 1/2$, else
`(ABSTAIN, 0.0)`. With probability at least $1 - \alpha$ over the noise, a returned label is
the smoothed classifier's label at every point within the radius (Cohen et al., Thm 1).

**Non-finite model outputs are an error**, not an abstention. If the model returns NaN or
inf for any noisy copy `x + t` that enters an estimate, every function here raises a
`RuntimeError` naming `model`, from a flag accumulated in the scan: checked on the host after an
eager call (so the compiled program has no host callback and JAX's persistent compilation cache
can keep it: JAX never caches a program with one), by one `eqx.error_if` when the call is inside
the caller's `jit` or `vmap` (an `EquinoxRuntimeError`, also a `RuntimeError`). A NaN score has no sign and no
argmax; counting it as a label (`NaN >= 0` is false, so it would be "-1") would certify a
radius for an answer the model never gave. An abstention would hide the defect; the caller can
always catch the error and abstain deliberately.

**Inputs are validated** (naming the argument): `key` must be one JAX PRNG key; `x` a real
floating, finite example `(d,)` (batch `(n, d)`), `d >= 1` (integer or complex inputs are
refused, not cast); `sigma` a finite scalar `> 0` (checked with `eqx.error_if` when traced);
`num_samples`, `n0`, `batch_size` integers `>= 1`; `alpha` a concrete number in `(0, 1)`.

**ABSTAIN** is the integer `-2`: binary labels are ±1.0 and multi-class labels are `0..c-1`, so
`-2` equals no real label of either task. Labels keep the task's dtype: binary results are
floats (`-2.0` on abstention, which compares equal to `ABSTAIN`), multi-class results int32.

**Rule for `n0` and `num_samples`.** `certify` requires `num_samples >= n0 >= 1`: the `n0` draws
only pick a class, the certificate's strength comes from `num_samples` (Cohen et al. use
`n0 = 100`, `n = 100000`). `num_samples < n0` is almost always the two arguments swapped, so it
is a `ValueError`, not a silent weak certificate. Note that `num_samples` draws can certify at
most $\underline{p_A} = \alpha^{1/n}$, i.e. radius $\sigma\Phi^{-1}(\alpha^{1/n})$.

**Float caveats of certificates.** Noise is sampled in the dtype of `x` (float32 by default);
the model's score is rounded in that dtype, so a draw landing within rounding error of the
decision boundary may be counted on either side (harmless for the statistics, it is a different
but equally valid base classifier). The statistics are computed on the host in float64 (SciPy)
and the radius is returned in the dtype of `x`; when $\underline{p_A}$ is within float64 epsilon
of 1, $\Phi^{-1}$ saturates (`num_samples` would have to exceed ~$10^{16}$), so radii are never
infinite. Treat a radius as valid up to a relative error of ~1e-6 (float32).

**Implementation** (one Monte-Carlo transform, `_monte_carlo.noisy_sum`, in the shape of
optax's `perturbations.make_perturbed_fun`: it turns a model into the function
`(key, x, sigma) -> sum of h(model(x + sigma t_i))`). Noise draw $i$ is
`jr.normal(jr.fold_in(key, i), x.shape) * sigma`: a pure function of the key and the draw index,
so results do not depend on `batch_size` nor on how the draws are split across steps or
devices. Draws are evaluated `vmap`-ed in chunks of at most `batch_size` inside `lax.scan`
(the last, shorter chunk on its own: no padding draws), sums accumulated, so memory is flat in
`num_samples` (10 to 10^6 and beyond) and identical code runs on CPU and GPU. [`smooth`][]
averages $h$; [`class_counts`][] sums one-hot labels; [`predict`][] and [`certify`][] are the
counts followed by a host statistic (SciPy, float64): run directly on concrete counts, or as one
`jax.pure_callback` when traced, so they are jittable and vmappable too. CERTIFY's `n0`
selection draws are indices `0..n0-1` and its estimation draws `n0..n0+num_samples-1`. The
`*_batch` variants are thin wrappers: the same single-example device part mapped over the rows
of `x` `(n, d)`, split over a one-dimensional `jax.sharding.Mesh` as
[`jaxbd.sharding.sharded_map`][] splits (argument `mesh=`; default all of `jax.devices()`),
each step's `batch_size` evaluations shared between rows (`lax.map`; a plain `lax.map` over rows,
no `vmap`, when one row fills a step), then the host statistic **once** for all rows. Row `i` always uses
`jr.fold_in(key, i)`, so results are the same on any number of devices (tested on 4 forced CPU
devices) and equal the single-example call with that key. With `jax.distributed` over several
processes every process passes the same host inputs and gets the whole result back
([`jaxbd.sharding.to_host`][]).
"""

from ._batch import (
    certify_batch as certify_batch,
    predict_batch as predict_batch,
    smooth_batch as smooth_batch,
)
from ._bounds import (
    hoeffding_error as hoeffding_error,
    hoeffding_num_samples as hoeffding_num_samples,
    lipschitz_bound as lipschitz_bound,
)
from ._single import (
    certify as certify,
    class_counts as class_counts,
    counts_jit as _counts_jit,
    predict as predict,
    smooth as smooth,
)
from ._stats import ABSTAIN as ABSTAIN, binom_two_sided_p as _binom_two_sided_p


__all__ = [
    "ABSTAIN",
    "smooth",
    "smooth_batch",
    "class_counts",
    "predict",
    "predict_batch",
    "certify",
    "certify_batch",
    "hoeffding_num_samples",
    "hoeffding_error",
    "lipschitz_bound",
]

# Private names read outside the package: the binomial p-value (tests/test_smoothing.py checks it
# against scipy.stats.binomtest) and the jitted counting step (benchmarks/bench_certify.py and
# the memory test lower it for XLA's memory analysis).
_PRIVATE_USED_ELSEWHERE = (_binom_two_sided_p, _counts_jit)
