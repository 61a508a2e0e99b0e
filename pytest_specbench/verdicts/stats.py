"""The statistics of the gate, in pure Python: no numpy, no scipy, no random numbers.

A replayed run must get the same verdict bit for bit, so every function here is a
deterministic computation over its arguments:

* Student's t (`t_cdf`, `t_ppf`) through the regularised incomplete beta (`betainc`,
  Lentz's continued fraction) and the noncentral t (`nct_cdf`, Lenth's AS 243);
* `welch`: Welch's unequal-variance t over two samples, one-sided p and two-sided interval;
* `fisher_less`: Fisher's exact test, one-sided, for k/N against k'/N' (exact integers);
* `holm` and `benjamini_hochberg`: adjusted p-values (the FWER and the FDR);
* `samples_per_side`: the samples per side a one-sided two-sample t test needs to see a
  shift of `margin` at a given power, by the **noncentral t** (not the normal approximation);
* `paired_t` and `sign_flip_p`: a one-sample t over paired differences, and the exact
  sign-flip p over all 2^n assignments.

`tests/verdicts/test_stats.py` holds each against scipy to 1e-9 on a grid of cases.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, fmean, variance

__all__ = [
    "Welch",
    "benjamini_hochberg",
    "betainc",
    "fisher_less",
    "fisher_less_min",
    "holm",
    "nct_cdf",
    "norm_cdf",
    "norm_ppf",
    "paired_t",
    "power_two_sample",
    "samples_per_side",
    "sign_flip_p",
    "t_cdf",
    "t_ppf",
    "t_sf",
    "welch",
]

_TINY = 1e-300
_EPS = 1e-16
_NORMAL = NormalDist()
MAX_SAMPLES = 100_000
"""`samples_per_side` answers None beyond this: no one will run that many."""
MAX_SIGN_FLIPS = 20
"""`sign_flip_p` enumerates 2^n assignments up to this n."""


def norm_cdf(x: float) -> float:
    """The standard normal CDF."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_ppf(p: float) -> float:
    """The standard normal quantile (Wichura's AS 241, as `statistics.NormalDist` computes it)."""
    return _NORMAL.inv_cdf(p)


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1."""
    if not (a > 0 and b > 0 and 0.0 <= x <= 1.0):
        raise ValueError(f"betainc needs a, b > 0 and 0 ≤ x ≤ 1, got a={a}, b={b}, x={x}")
    return _betainc(a, b, x, 1.0 - x)


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """I_x(a, b) with y = 1 - x given separately, where the caller knows it more precisely."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):  # the continued fraction converges fast only below this
        return 1.0 - _betainc(b, a, y, x)
    log_front = a * math.log(x) + b * math.log(y) - _log_beta(a, b)
    return math.exp(log_front) / a * _beta_fraction(a, b, x)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), by the modified Lentz method (Numerical Recipes §6.4)."""
    c, d = 1.0, _nonzero(1.0 - (a + b) * x / (a + 1.0))
    d = 1.0 / d
    h = d
    for m in range(1, 100_000):
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        for term in (even, odd):
            d = 1.0 / _nonzero(1.0 + term * d)
            c = _nonzero(1.0 + term / c)
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"the incomplete beta did not converge for a={a}, b={b}, x={x}")


def _nonzero(value: float) -> float:
    return value if abs(value) > _TINY else _TINY


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with `df` degrees of freedom (df > 0, may be fractional)."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if math.isinf(df):
        return norm_cdf(t)
    if t == 0.0:
        return 0.5
    t2 = t * t
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))  # P(T ≤ -|t|)
    return tail if t < 0 else 1.0 - tail


def t_sf(t: float, df: float) -> float:
    """P(T > t): the upper tail, computed as a lower tail so that small values keep their digits."""
    return t_cdf(-t, df)


def _t_pdf(t: float, df: float) -> float:
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))


def t_ppf(p: float, df: float) -> float:
    """The t quantile: the t with P(T ≤ t) = p, by Newton steps kept inside a bracket."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a quantile needs 0 < p < 1, got {p}")
    if math.isinf(df):
        return norm_ppf(p)
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    low, high = 0.0, max(1.0, norm_ppf(p))
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
    t = (low + high) / 2.0
    for _ in range(200):
        error = t_cdf(t, df) - p
        if error > 0:
            high = t
        else:
            low = t
        step = error / _t_pdf(t, df)
        if abs(step) <= 4 * _EPS * t:
            return t - step
        proposal = t - step
        t = proposal if low <= proposal <= high else (low + high) / 2.0
    return t


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LOG_SQRT_PI = 0.5 * math.log(math.pi)
MAX_NONCENTRALITY = 37.0
"""AS 243 loses accuracy beyond this noncentrality (and exp(-δ²/2) underflows soon after)."""


def nct_cdf(t: float, df: float, nc: float) -> float:
    """P(T ≤ t) for the noncentral t with `df` degrees of freedom and noncentrality `nc`.

    Lenth's algorithm AS 243 (Applied Statistics 38, 1989): a series in incomplete beta
    functions, summed until its error bound is under 1e-13.
    """
    if abs(nc) > MAX_NONCENTRALITY:
        raise ValueError(f"noncentrality {nc} is beyond ±{MAX_NONCENTRALITY}, where AS 243 is accurate")
    negative = t < 0
    tt, delta = (-t, -nc) if negative else (t, nc)
    total = 0.0
    x = tt * tt / (tt * tt + df)
    if x > 0:
        lam = delta * delta
        p = 0.5 * math.exp(-0.5 * lam)
        q = _SQRT_2_OVER_PI * p * delta
        s = 0.5 - p
        a, b = 0.5, 0.5 * df
        y = df / (tt * tt + df)
        rxb = y**b
        log_beta = _LOG_SQRT_PI + math.lgamma(b) - math.lgamma(a + b)
        x_odd = _betainc(a, b, x, y)
        g_odd = 2.0 * rxb * math.exp(a * math.log(x) - log_beta)
        x_even = 1.0 - rxb
        g_even = b * x * rxb
        total = p * x_odd + q * x_even
        n = 1.0
        while True:
            a += 1.0
            x_odd -= g_odd
            x_even -= g_even
            g_odd *= x * (a + b - 1.0) / a
            g_even *= x * (a + b - 0.5) / (a + 0.5)
            p *= lam / (2.0 * n)
            q *= lam / (2.0 * n + 1.0)
            s -= p
            n += 1.0
            total += p * x_odd + q * x_even
            if 2.0 * s * (x_odd - g_odd) <= 1e-13 or n > 5000:
                break
    total += norm_cdf(-delta)
    return 1.0 - total if negative else total


@dataclass(frozen=True, slots=True)
class Welch:
    """Welch's t over two samples: the difference of means (new − old), its standard error and df."""

    difference: float
    se: float
    df: float

    @property
    def t(self) -> float:
        return self.difference / self.se

    def p_less(self) -> float:
        """One-sided p against "new is not below old" (small when new is lower)."""
        return t_cdf(self.t, self.df)

    def p_greater(self) -> float:
        """One-sided p against "new is not above old" (small when new is higher)."""
        return t_sf(self.t, self.df)

    def interval(self, level: float = 0.90) -> tuple[float, float]:
        """The two-sided interval of the difference; the 90 % one holds both one-sided 95 % bounds."""
        half = t_ppf(0.5 + level / 2.0, self.df) * self.se
        return self.difference - half, self.difference + half


def welch(old: Sequence[float], new: Sequence[float]) -> Welch:
    """Welch's t of `new` against `old`; each needs two values or more, and not both without spread."""
    if len(old) < 2 or len(new) < 2:
        raise ValueError("Welch's t needs at least two values per side")
    v_old, v_new = variance(old) / len(old), variance(new) / len(new)
    se2 = v_old + v_new
    if se2 <= 0:
        raise ValueError("Welch's t needs some spread on one side at least")
    df = se2 * se2 / (v_old * v_old / (len(old) - 1) + v_new * v_new / (len(new) - 1))
    return Welch(fmean(new) - fmean(old), math.sqrt(se2), df)


def fisher_less(k_new: int, n_new: int, k_old: int, n_old: int) -> float:
    """Fisher's exact test, one-sided: the chance of k_new or fewer passes in the new sample when
    both share one pass rate (hypergeometric, given the total passes), in exact integers."""
    total, passes = n_new + n_old, k_new + k_old
    low = max(0, passes - n_old)
    ways = sum(math.comb(passes, x) * math.comb(total - passes, n_new - x) for x in range(low, k_new + 1))
    return ways / math.comb(total, n_new)


def fisher_less_min(passes: int, n_new: int, n_old: int) -> float:
    """The smallest `fisher_less` p possible with these margins (Tarone's screen for discrete tests)."""
    return fisher_less(max(0, passes - n_old), n_new, min(passes, n_old), n_old)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the order given."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg q-values (false discovery rate), in the order given."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 1.0
    for rank, index in reversed(list(enumerate(sorted(range(m), key=lambda i: p_values[i])))):
        running = min(running, m * p_values[index] / (rank + 1))
        adjusted[index] = running
    return adjusted


def power_two_sample(n: int, effect: float, alpha: float = 0.05) -> float:
    """Power of a one-sided two-sample t test, n per side, to see a shift of `effect` SDs."""
    df = 2 * n - 2
    nc = effect * math.sqrt(n / 2.0)
    if nc > MAX_NONCENTRALITY:
        return 1.0  # beyond AS 243's range, and the power is 1 to many digits there
    return 1.0 - nct_cdf(t_ppf(1.0 - alpha, df), df, nc)


def samples_per_side(sd: float, margin: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """The fewest samples per side for a one-sided two-sample t test at `alpha` to see a shift of
    `margin` with `power`, given a common standard deviation `sd` (noncentral t, equal n).

    None when the answer is above `MAX_SAMPLES`, or the margin is 0.
    """
    if sd <= 0:
        return 2
    if margin <= 0:
        return None
    effect = margin / sd
    high = 2
    while power_two_sample(high, effect, alpha) < power:
        if high > MAX_SAMPLES:
            return None
        high *= 2
    low = max(2, high // 2)
    while low < high:  # the power rises with n: the first n that reaches it
        middle = (low + high) // 2
        low, high = (middle + 1, high) if power_two_sample(middle, effect, alpha) < power else (low, middle)
    return high if high <= MAX_SAMPLES else None


def paired_t(differences: Sequence[float]) -> Welch:
    """A one-sample t over paired differences (as a `Welch` of their mean, its standard error, n − 1)."""
    n = len(differences)
    if n < 2:
        raise ValueError("a paired t needs at least two pairs")
    se = math.sqrt(variance(differences) / n)
    if se <= 0:
        raise ValueError("a paired t needs some spread in the differences")
    return Welch(fmean(differences), se, n - 1.0)


def sign_flip_p(differences: Sequence[float]) -> float:
    """Exact one-sided p of a sign-flip test: the share of the 2^n sign assignments whose sum is at
    or below the observed one (small when the differences are mostly negative)."""
    n = len(differences)
    if n > MAX_SIGN_FLIPS:
        raise ValueError(f"sign_flip_p enumerates 2^n assignments; n = {n} is over {MAX_SIGN_FLIPS}")
    observed = sum(differences)
    slack = 1e-9 * max(1.0, sum(abs(d) for d in differences))
    magnitudes = [abs(d) for d in differences]
    at_or_below = sum(
        1
        for signs in itertools.product((1.0, -1.0), repeat=n)
        if sum(s * m for s, m in zip(signs, magnitudes, strict=True)) <= observed + slack
    )
    return at_or_below / float(1 << n)
