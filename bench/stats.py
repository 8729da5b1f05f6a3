# SPDX-License-Identifier: GPL-2.0-only
"""bench/stats.py - the statistics every comparison of the benchmark report uses.

A comparison of two variants is the ratio of their medians a/b, with a percentile
bootstrap 95% interval of that ratio and the exact two-sided Mann-Whitney U p-value of
the two samples. A difference is claimed only when the interval excludes 1 and p is
below ALPHA: a bootstrap of few runs is narrower than the truth (3 runs against 3 can
give an interval that excludes 1 while no rank test can, p >= 0.1), so the interval
alone would overclaim. With fewer than MIN_RUNS runs on a side there is no interval.
"""

import random
import statistics

MIN_RUNS = 3
RESAMPLES = 10000
LEVEL = 0.95
ALPHA = 0.05

# What the report says once about every "ratio [interval], p" it shows.
NOTE = ("A comparison a / b is the ratio of the two medians, then its 95%% interval "
        "[lo, hi] (percentile bootstrap, %d resamples of each variant's runs, seeded) and "
        "the exact two-sided Mann-Whitney U p-value of the two sets of runs; where the "
        "interval holds 1, or p is %.2f or more, it says *not significant* and no "
        "difference is claimed (with 3 runs against 3, p is never below 0.1). With "
        "fewer than %d runs on a side no interval is given." % (RESAMPLES, ALPHA, MIN_RUNS))


def median(xs):
    return statistics.median(xs) if xs else None


def bootstrap_ratio(a, b, resamples=RESAMPLES, seed=1, level=LEVEL):
    """Percentile bootstrap interval (lo, hi) of median(a) / median(b).

    Seeded, so that a report rewritten from the same runs states the same interval."""
    rng = random.Random(seed)
    rs = []
    for _ in range(resamples):
        mb = statistics.median(rng.choices(b, k=len(b)))
        if mb:
            rs.append(statistics.median(rng.choices(a, k=len(a))) / mb)
    if not rs:
        return None, None
    rs.sort()
    tail = (1 - level) / 2
    return rs[int(tail * (len(rs) - 1))], rs[int(round((1 - tail) * (len(rs) - 1)))]


def _ranks2(values):
    """Twice the midranks (1-based) of values: integers, ties included."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    r2 = [0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r2[order[k]] = i + j + 2     # 2 x the mean of ranks i+1 .. j+1
        i = j + 1
    return r2


def mann_whitney_p(a, b):
    """Exact two-sided Mann-Whitney U p-value: the share of the C(n, len(a)) ways to
    split the pooled runs into groups of len(a) and len(b) whose rank sum of the first
    group lies at least as far from its mean as the one observed. Exact with ties too
    (midranks; the distribution is counted, not approximated)."""
    if not a or not b:
        return None
    r2 = _ranks2(list(a) + list(b))
    na = len(a)
    # counts[k][s]: ways to pick k of the pooled values with doubled rank sum s
    counts = [dict() for _ in range(na + 1)]
    counts[0][0] = 1
    for r in r2:
        for k in range(min(na, len(r2)) - 1, -1, -1):
            for s, c in counts[k].items():
                counts[k + 1][s + r] = counts[k + 1].get(s + r, 0) + c
    total = sum(counts[na].values())
    mean2 = na * (len(r2) + 1)          # 2 x the expected rank sum of group a
    obs = abs(sum(r2[:na]) - mean2)
    extreme = sum(c for s, c in counts[na].items() if abs(s - mean2) >= obs)
    return extreme / total


class Comparison:
    """median(a) / median(b) with its interval and p; significant is None when a side
    has fewer than MIN_RUNS runs. Comparison.to_bound(a, x) compares runs with a
    computed bound x: the interval is of median(a) / x, and there is no p (a test
    against a constant says nothing)."""

    def __init__(self, a, b, **kw):
        a = [x for x in a if x is not None]
        b = [x for x in b if x is not None]
        self.n_a, self.n_b = len(a), len(b)
        self.bound = False
        ma, mb = median(a), median(b)
        self.ratio = ma / mb if ma is not None and mb else None
        self.lo = self.hi = self.p = None
        if self.ratio is not None and min(len(a), len(b)) >= MIN_RUNS:
            self.lo, self.hi = bootstrap_ratio(a, b, **kw)
            self.p = mann_whitney_p(a, b)

    @classmethod
    def to_bound(cls, a, bound):
        c = cls(a, [])
        a = [x for x in a if x is not None]
        c.bound, c.n_b = True, 1
        if a and bound:
            c.ratio = median(a) / bound
            if len(a) >= MIN_RUNS:
                c.lo, c.hi = bootstrap_ratio(a, [bound])
        return c

    @property
    def significant(self):
        if self.lo is None:
            return None
        return not self.lo <= 1 <= self.hi and (self.p is None or self.p < ALPHA)

    def below(self, target):
        """True when the whole interval is at most target (a ratio target met with
        confidence), False when the median ratio is above it, None otherwise."""
        if self.ratio is None:
            return None
        if self.ratio > target:
            return False
        return True if self.hi is not None and self.hi <= target else None

    def __str__(self):
        if self.ratio is None:
            return "-"
        if self.lo is None:
            return "%s (too few runs for an interval: %s)" % (
                fmt_ratio(self.ratio), self.n_a if self.bound else "%d and %d" % (self.n_a, self.n_b))
        if self.bound:
            return "%s [%s, %s]" % (fmt_ratio(self.ratio), fmt_ratio(self.lo), fmt_ratio(self.hi))
        return "%s [%s, %s], p = %s%s" % (
            fmt_ratio(self.ratio), fmt_ratio(self.lo), fmt_ratio(self.hi), fmt_p(self.p),
            "" if self.significant else ", not significant")


def fmt_ratio(r):
    """Two decimals, or two significant digits below 0.1 (a 0.3% ratio is not 0.00)."""
    return "%.2f" % r if r >= 0.1 else "%.2g" % r


def fmt_p(p):
    if p is None:
        return "-"
    return "%.2g" % p if p >= 0.001 else "%.1e" % p


def outliers(xs, k=3.0):
    """Values beyond Tukey's far-out fences (quartile -/+ k x IQR). The IQR is taken as
    at least 1% of the median, so that a tight sample does not flag ordinary jitter."""
    if len(xs) < 4:
        return []
    q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    iqr = max(q3 - q1, abs(statistics.median(xs)) * 0.01)
    return [x for x in xs if x > q3 + k * iqr or x < q1 - k * iqr]
