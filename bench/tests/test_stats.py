#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Host unit tests of bench/stats.py against values known from elsewhere: scipy's
mannwhitneyu(method="exact") and its documentation, and hand-counted permutations.
Prints TAP (make -C bench check; make test runs it)."""

import itertools
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import stats  # noqa: E402


def brute_p(a, b):
    """Two-sided permutation p of the rank sum by enumerating every split (slow)."""
    pooled = list(a) + list(b)
    r2 = stats._ranks2(pooled)
    mean2 = len(a) * (len(pooled) + 1)
    obs = abs(sum(r2[:len(a)]) - mean2)
    splits = list(itertools.combinations(range(len(pooled)), len(a)))
    hits = sum(1 for c in splits if abs(sum(r2[i] for i in c) - mean2) >= obs)
    return hits / len(splits)


class MannWhitney(unittest.TestCase):
    def test_separated_3_3(self):
        # scipy: mannwhitneyu([1,2,3],[4,5,6], method="exact").pvalue == 0.1
        self.assertAlmostEqual(stats.mann_whitney_p([1, 2, 3], [4, 5, 6]), 0.1)

    def test_separated_5_5(self):
        # 2 / C(10, 5) = 2 / 252
        self.assertAlmostEqual(stats.mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]),
                               2 / 252)

    def test_scipy_doc_example(self):
        # scipy.stats.mannwhitneyu docs: males vs females, U1 = 17, p = 0.1111
        self.assertAlmostEqual(stats.mann_whitney_p([19, 22, 16, 29, 24], [20, 11, 17, 12]),
                               0.1111111111, places=6)

    def test_identical_samples(self):
        self.assertAlmostEqual(stats.mann_whitney_p([5, 5, 5], [5, 5, 5]), 1.0)

    def test_symmetric_in_order(self):
        a, b = [3.1, 2.2, 5.0, 4.4], [1.0, 0.5, 2.2, 6.0, 0.9]
        self.assertAlmostEqual(stats.mann_whitney_p(a, b), stats.mann_whitney_p(b, a))

    def test_ties_match_enumeration(self):
        a, b = [1, 2, 2, 3, 5, 5], [2, 3, 3, 4, 5, 6, 6]
        self.assertAlmostEqual(stats.mann_whitney_p(a, b), brute_p(a, b))

    def test_ten_each_matches_enumeration(self):
        a = [0.77, 0.81, 0.70, 0.92, 0.88, 0.79, 0.85, 0.74, 0.90, 0.83]
        b = [0.95, 0.99, 0.86, 1.04, 0.93, 1.01, 0.97, 0.89, 1.10, 0.94]
        self.assertAlmostEqual(stats.mann_whitney_p(a, b), brute_p(a, b))
        self.assertLess(stats.mann_whitney_p(a, b), 0.01)


class Bootstrap(unittest.TestCase):
    def test_constant_samples(self):
        self.assertEqual(stats.bootstrap_ratio([10] * 5, [5] * 5), (2.0, 2.0))

    def test_interval_holds_the_ratio(self):
        a, b = [4.1, 4.5, 3.9, 5.0, 4.4], [2.0, 2.4, 2.2, 2.1, 2.6]
        lo, hi = stats.bootstrap_ratio(a, b)
        self.assertLessEqual(lo, 4.4 / 2.2)
        self.assertGreaterEqual(hi, 4.4 / 2.2)
        # every resampled median lies within the samples' ranges
        self.assertGreaterEqual(lo, 3.9 / 2.6)
        self.assertLessEqual(hi, 5.0 / 2.0)

    def test_seeded(self):
        a, b = [1.0, 1.3, 0.9, 1.6, 1.1], [1.2, 1.0, 1.4, 1.5, 0.8]
        self.assertEqual(stats.bootstrap_ratio(a, b), stats.bootstrap_ratio(a, b))


class Compare(unittest.TestCase):
    def test_overlapping_is_not_significant(self):
        c = stats.Comparison([1.0, 1.3, 0.9, 1.6, 1.1], [1.2, 1.0, 1.4, 1.5, 0.8])
        self.assertIs(c.significant, False)
        self.assertIn("not significant", str(c))

    def test_separated_is_significant(self):
        c = stats.Comparison([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        self.assertAlmostEqual(c.ratio, 3 / 8)
        self.assertIs(c.significant, True)
        self.assertNotIn("not significant", str(c))
        self.assertIn("p = 0.0079", str(c))

    def test_small_ratios_keep_their_digits(self):
        c = stats.Comparison([5.0, 5.2, 4.9], [1500.0, 1600.0, 1550.0])
        self.assertTrue(str(c).startswith("0.0032 ["), str(c))

    def test_three_runs_are_never_significant(self):
        # disjoint samples: the interval excludes 1, but the smallest p of 3 vs 3 is 0.1
        c = stats.Comparison([1.0, 1.1, 1.2], [2.0, 2.1, 2.2])
        self.assertGreater(1, c.hi)
        self.assertAlmostEqual(c.p, 0.1)
        self.assertIs(c.significant, False)

    def test_too_few_runs(self):
        c = stats.Comparison([1.0], [2.0])
        self.assertEqual(c.ratio, 0.5)
        self.assertIsNone(c.significant)
        self.assertIsNone(c.lo)
        self.assertIn("too few runs", str(c))

    def test_below_target(self):
        c = stats.Comparison([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        self.assertIs(c.below(0.9), True)     # whole interval under 0.9
        self.assertIs(c.below(0.3), False)    # median ratio 0.375 above 0.3
        self.assertIsNone(stats.Comparison([1.0], [2.0]).below(0.9))

    def test_failed_runs_are_left_out(self):
        c = stats.Comparison([2.0, None, 2.0, 2.0], [1.0, 1.0, 1.0])
        self.assertEqual((c.n_a, c.ratio), (3, 2.0))


class Bound(unittest.TestCase):
    def test_ratio_to_a_computed_bound(self):
        c = stats.Comparison.to_bound([4.4, 4.6, 4.5, 4.7, 4.5], 4.0)
        self.assertAlmostEqual(c.ratio, 4.5 / 4.0)
        # A resample's median is the smallest run (4.4) when 3 or more of its 5 draws
        # are that run: P = 0.058 > 2.5%, so the interval reaches 4.4 / 4; the same for
        # the largest (4.7).
        self.assertEqual((c.lo, c.hi), (4.4 / 4.0, 4.7 / 4.0))
        self.assertIsNone(c.p)
        self.assertTrue(str(c).startswith("1.12 [1.10, 1.1"))

    def test_target_against_a_bound(self):
        c = stats.Comparison.to_bound([1.05, 1.06, 1.04, 1.05], 1.0)
        self.assertIs(c.below(1.10), True)
        self.assertIs(stats.Comparison.to_bound([1.2, 1.3, 1.25], 1.0).below(1.10), False)


class Outliers(unittest.TestCase):
    def test_far_out_run(self):
        # S1 v2-today of the committed run: one 27 s run among 17.5 s ones
        self.assertEqual(stats.outliers([17.61, 17.41, 17.55, 17.70, 27.02]), [27.02])

    def test_ordinary_spread(self):
        self.assertEqual(stats.outliers([4.82, 4.48, 5.06, 4.90, 4.60]), [])

    def test_too_few(self):
        self.assertEqual(stats.outliers([1.0, 1.0, 9.0]), [])


def tap_main(module, suite):
    """Run a module's test cases, printing TAP; 1 when any failed."""
    tests = list(unittest.defaultTestLoader.loadTestsFromModule(module))
    cases = [t for s in tests for t in s]
    print("TAP version 13")
    print("1..%d" % len(cases))
    failed = 0
    for i, case in enumerate(cases, 1):
        res = unittest.TestResult()
        case.run(res)
        name = case.id().split(".", 1)[1]
        if res.wasSuccessful():
            print("ok %d - %s: %s" % (i, suite, name))
        else:
            failed += 1
            print("not ok %d - %s: %s" % (i, suite, name))
            for _, tb in res.failures + res.errors:
                print("# " + tb.replace("\n", "\n# "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(tap_main(sys.modules[__name__], "stats"))
