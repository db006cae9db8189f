"""The parity gate as a truth table: what passes, what fails, and why."""

import numpy as np
import pytest

from models.parity import STRICT, TOLERANCES, Tolerance, compare

REFERENCE = np.linspace(0.0, 10.0, 101)
THRESHOLD = 8.95


@pytest.mark.parametrize(
    ("compiled", "ambiguous", "passed", "failure"),
    [
        pytest.param(REFERENCE.copy(), None, True, None, id="identical-passes"),
        pytest.param(REFERENCE + 1e-12, None, True, None, id="rounding-noise-passes"),
        pytest.param(REFERENCE + 1e-6, None, False, "relative difference", id="small-offset-fails"),
        pytest.param(REFERENCE[::-1].copy(), None, False, "Spearman", id="reversed-ranking-fails"),
        pytest.param(np.where(REFERENCE == 9.0, 8.9, REFERENCE), None, False, "label flip", id="flip-fails"),
        pytest.param(
            np.where(REFERENCE == 5.0, 6.0, REFERENCE),
            REFERENCE == 5.0,
            True,
            None,
            id="ambiguous-row-left-out",
        ),
        pytest.param(REFERENCE + 1.0, REFERENCE < 6.0, False, "tied neighbours", id="mostly-ambiguous-fails"),
    ],
)
def test_compare(compiled, ambiguous, passed, failure):
    report = compare(
        REFERENCE, compiled, THRESHOLD, STRICT, reference_name="ref", mode="batch", ambiguous=ambiguous
    )
    assert report.passed is passed
    assert report.rows == REFERENCE.size
    if failure:
        assert any(failure in f for f in report.failures), report.failures
    else:
        assert report.failures == []


def test_a_label_flip_fails_even_when_the_difference_is_rounding_noise():
    threshold = 9.0 + 5e-13
    report = compare(REFERENCE, REFERENCE + 1e-12, threshold, STRICT, reference_name="ref", mode="batch")
    assert report.max_relative_diff < STRICT.max_relative_diff
    assert report.label_flips == 1 and not report.passed


def test_ambiguous_rows_are_counted():
    report = compare(
        REFERENCE, REFERENCE, THRESHOLD, STRICT, reference_name="ref", mode="batch", ambiguous=REFERENCE > 8.5
    )
    assert report.ambiguous_rows == int((REFERENCE > 8.5).sum())


def test_constant_scores_compare_by_equality():
    same = compare(np.ones(5), np.ones(5), 1.0, STRICT, reference_name="r", mode="batch")
    other = compare(
        np.ones(5),
        np.full(5, 2.0),
        1.0,
        Tolerance(max_relative_diff=10, min_spearman=0.5, max_label_flips=5),
        reference_name="r",
        mode="batch",
    )
    assert same.passed and same.spearman == 1.0
    assert not other.passed and other.spearman == 0.0


def test_every_detector_has_a_tolerance():
    from models.detectors import DETECTORS

    assert set(TOLERANCES) == set(DETECTORS)
