"""Labels: 1 above the threshold, 0 at or below it, int64, and every scorer decides the same way."""

import numpy as np
import pytest

from models.distribution import describe
from models.labels import anomaly_labels
from models.parity import STRICT, compare

THRESHOLD = 0.5


@pytest.mark.parametrize(
    ("score", "label"),
    [
        pytest.param(0.75, 1, id="above-is-an-anomaly"),
        pytest.param(THRESHOLD, 0, id="at-the-threshold-is-normal"),
        pytest.param(np.nextafter(THRESHOLD, 1.0), 1, id="one-ulp-above-is-an-anomaly"),
        pytest.param(0.25, 0, id="below-is-normal"),
        pytest.param(np.inf, 1, id="infinite-is-an-anomaly"),
        pytest.param(np.nan, 0, id="nan-is-normal"),
    ],
)
def test_labels(score, label):
    labels = anomaly_labels(np.array([score]), THRESHOLD)
    assert labels.tolist() == [label] and labels.dtype == np.int64


def test_the_reference_anomaly_rate_and_parity_flips_use_the_same_labels():
    scores = np.array([0.25, THRESHOLD, np.nextafter(THRESHOLD, 1.0), 0.75])
    assert describe(scores, THRESHOLD).anomaly_rate == 0.5  # the score at the threshold is normal
    nudged = np.array([0.25, np.nextafter(THRESHOLD, 1.0), THRESHOLD, 0.75])  # two rows cross it
    report = compare(scores, nudged, THRESHOLD, STRICT, reference_name="ref", mode="batch")
    assert report.label_flips == 2
