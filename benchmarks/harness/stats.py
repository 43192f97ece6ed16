"""Means with 95 % confidence intervals and paired contrasts (Student t,
or a paired bootstrap), for the benchmarks' reports. Written out so that
the reports need nothing beyond the standard library."""
import math
import random
from typing import Callable, Sequence


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) (continued fraction)."""
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _incomplete_beta(b, a, 1 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) +
                     a * math.log(x) + b * math.log(1 - x)) / a
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            step = 1.0
        elif i % 2 == 0:
            step = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            step = -(a + m) * (a + b + m) * x / ((a + 2 * m) *
                                                 (a + 2 * m + 1))
        d = 1 + step * d
        d = 1 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1 + step / c if abs(c) > 1e-300 else 1e-300
        f *= c * d
        if abs(1 - c * d) < 1e-12:
            break
    return front * (f - 1)


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    return _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile (q > 0.5) of Student's t (bisection)."""
    low, high = 0.0, 1000.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if t_two_sided_p(mid, df) > 2 * (1 - q) \
            else (low, mid)
    return (low + high) / 2


def t_quantile_975(df: float) -> float:
    """The 97.5 % quantile of Student's t: 95 % intervals."""
    return t_quantile(0.975, df)


def mean_ci(values: Sequence[float]) -> dict:
    """Mean, its 95 % confidence interval (t) and n."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return dict(mean=mean, low=None, high=None, n=n)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return dict(mean=mean, low=mean - half, high=mean + half, n=n)


def paired_contrast(a: Sequence[float], b: Sequence[float]) -> dict:
    """Mean of a - b over pairs, its 95 % CI and the paired t-test's
    two-sided p-value."""
    if len(a) != len(b):
        raise ValueError(f'paired samples differ in length: {len(a)} and '
                         f'{len(b)}')
    diffs = [x - y for x, y in zip(a, b)]
    summary = mean_ci(diffs)
    n = summary['n']
    if n < 2:
        return dict(summary, p=None)
    sd = math.sqrt(sum((d - summary['mean']) ** 2 for d in diffs) / (n - 1))
    if sd == 0:
        return dict(summary, p=1.0 if summary['mean'] == 0 else 0.0)
    t = summary['mean'] / (sd / math.sqrt(n))
    return dict(summary, p=t_two_sided_p(t, n - 1))


def paired_bootstrap(statistic: Callable[[Sequence[int]], float], n: int,
                     resamples: int = 10000, seed: int = 0) -> dict:
    """A statistic of n paired units (``statistic(indices)``, e.g. the
    difference of two models' dataset-level IoU over the same images), its
    95 % percentile interval over resamples of the units with replacement,
    and the two-sided bootstrap p-value of no difference: for statistics
    that are not means of per-unit differences."""
    rng = random.Random(seed)
    draws = sorted(statistic([rng.randrange(n) for _ in range(n)])
                   for _ in range(resamples))
    below = sum(d <= 0 for d in draws) / resamples
    above = sum(d >= 0 for d in draws) / resamples
    return dict(mean=statistic(range(n)),
                low=draws[int(0.025 * (resamples - 1))],
                high=draws[int(0.975 * (resamples - 1))], n=n,
                p=min(1.0, 2 * min(below, above)))
