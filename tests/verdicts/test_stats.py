"""The gate's pure-Python statistics against scipy (the dev extra), to 1e-9 on a grid of cases."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from pytest_specbench.verdicts import stats

scipy_stats: Any = pytest.importorskip("scipy.stats", reason="scipy (the dev extra) is not installed")
special: Any = pytest.importorskip("scipy.special")

DF = [1, 1.5, 2, 2.3866, 3.83, 5, 10, 30, 100, 1000]


def close(ours: float, theirs: float) -> bool:
    return math.isclose(ours, float(theirs), rel_tol=1e-9, abs_tol=1e-13)


def test_incomplete_beta() -> None:
    grid = itertools.product([0.5, 1, 2.5, 10, 50, 300], [0.5, 1, 3, 20, 150], [0.001, 0.1, 0.5, 0.9, 0.999])
    misses = [(a, b, x) for a, b, x in grid if not close(stats.betainc(a, b, x), special.betainc(a, b, x))]
    assert misses == []


def test_t_cdf_and_quantile() -> None:
    cdf = itertools.product([-40, -5, -2.1, -0.3, 0, 0.01, 0.7, 1.645, 3, 12, 80], DF)
    assert [(t, df) for t, df in cdf if not close(stats.t_cdf(t, df), scipy_stats.t.cdf(t, df))] == []
    ppf = itertools.product([0.001, 0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.975, 0.999], DF)
    assert [(p, df) for p, df in ppf if not close(stats.t_ppf(p, df), scipy_stats.t.ppf(p, df))] == []
    assert close(stats.t_sf(4.0, 3.0), scipy_stats.t.sf(4.0, 3.0))


def test_noncentral_t_cdf() -> None:
    t = [-3, -0.5, 0, 0.5, 1.7, 2.9, 6]
    grid = itertools.product(t, [2, 4, 9.5, 30, 200], [-3, -1, 0, 0.5, 1.5, 3, 6])
    theirs = {case: float(scipy_stats.nct.cdf(*case)) for case in grid}
    # Where scipy has no answer (nan, far in a tail), there is nothing to hold ours to.
    misses = [case for case, p in theirs.items() if not math.isnan(p) and not close(stats.nct_cdf(*case), p)]
    assert misses == [] and sum(math.isnan(p) for p in theirs.values()) <= 1


# scipy warns of its own precision on a side without spread; ours has nothing to lose there.
@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ([170, 178, 174], [110, 125, 125]),
        ([174, 150, 196], [160, 145, 180]),
        ([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.5, 2.0, 9.0]),
        ([0.5, 0.5, 0.7], [0.1, 0.9, 0.4, 0.3, 0.35, 0.2]),
        ([10.0, 10.0, 10.0], [9.0, 11.0, 12.0]),
    ],
)
def test_welch_p_and_interval(old: list[float], new: list[float]) -> None:
    ours = stats.welch(old, new)
    for alternative, p in (("less", ours.p_less()), ("greater", ours.p_greater())):
        theirs = scipy_stats.ttest_ind(new, old, equal_var=False, alternative=alternative)
        assert close(p, theirs.pvalue) and close(ours.df, theirs.df)
    low, high = scipy_stats.ttest_ind(new, old, equal_var=False).confidence_interval(0.90)
    assert close(ours.interval(0.90)[0], low) and close(ours.interval(0.90)[1], high)


def test_fisher_exact_one_sided() -> None:
    misses = []
    for n_new, n_old in [(3, 3), (5, 5), (10, 10), (3, 10), (1, 4), (20, 7)]:
        for k_new, k_old in itertools.product(range(n_new + 1), range(n_old + 1)):
            table = [[k_new, n_new - k_new], [k_old, n_old - k_old]]
            theirs = scipy_stats.fisher_exact(table, alternative="less").pvalue
            if not close(stats.fisher_less(k_new, n_new, k_old, n_old), theirs):
                misses.append((k_new, n_new, k_old, n_old))
    assert misses == []


def test_holm_and_benjamini_hochberg() -> None:
    multitest: Any = pytest.importorskip("scipy.stats").false_discovery_control
    for ps in ([0.01, 0.04, 0.03, 0.5], [0.2, 0.001, 0.049, 0.049, 0.9, 0.012], [0.3]):
        assert all(close(a, b) for a, b in zip(stats.benjamini_hochberg(ps), multitest(ps), strict=True))
        m = len(ps)
        order = sorted(range(m), key=lambda i: ps[i])
        expected, running = [0.0] * m, 0.0
        for rank, i in enumerate(order):  # Holm (1979), as statsmodels' multipletests computes it
            running = max(running, min(1.0, (m - rank) * ps[i]))
            expected[i] = running
        assert stats.holm(ps) == expected


@pytest.mark.parametrize(("sd", "margin"), [(0.1218, -math.log(0.9)), (0.3, 0.1), (1.0, 1.0), (0.05, 0.2)])
def test_samples_per_side_is_the_first_n_with_80_percent_power_by_the_noncentral_t(
    sd: float, margin: float
) -> None:
    def power(n: int) -> float:
        df, nc = 2 * n - 2, margin / sd * math.sqrt(n / 2)
        return float(1 - scipy_stats.nct.cdf(scipy_stats.t.ppf(0.95, df), df, nc))

    n = stats.samples_per_side(sd, margin)

    assert n is not None and power(n) >= 0.8 and (n == 2 or power(n - 1) < 0.8)


def test_paired_t_and_sign_flip() -> None:
    differences = [-0.3, -0.1, 0.05, -0.2, -0.25]
    ours = stats.paired_t(differences)
    theirs = scipy_stats.ttest_1samp(differences, 0.0, alternative="less")
    assert close(ours.p_less(), theirs.pvalue)
    exact = scipy_stats.permutation_test(
        (differences,), lambda x: sum(x), permutation_type="samples", alternative="less", n_resamples=10**6
    )
    assert close(stats.sign_flip_p(differences), exact.pvalue)
