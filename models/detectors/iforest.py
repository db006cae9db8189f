"""Isolation forest: flatten every tree of scikit-learn's IsolationForest into one node table."""

import numpy as np

from models.detectors.spec import Detector, Params
from models.errors import CompileError


def extract(fitted) -> Params:
    """Node arrays over all trees: global feature ids, thresholds, children, leaf values."""
    forest = fitted.detector_
    try:
        path_lengths = forest._decision_path_lengths
        leaf_corrections = forest._average_path_length_per_tree
        max_samples = forest._max_samples
    except AttributeError as e:
        raise CompileError(
            f"this scikit-learn IsolationForest lacks {e.name}; install the pinned scikit-learn 1.9"
        ) from e
    if max_samples < 2:
        raise CompileError("iforest needs max_samples >= 2: a one-sample tree isolates nothing")
    features, thresholds, lefts, rights, values, roots = [], [], [], [], [], []
    offset = 0
    for tree, subset, depth, correction in zip(
        forest.estimators_, forest.estimators_features_, path_lengths, leaf_corrections, strict=True
    ):
        nodes = tree.tree_
        leaf = nodes.children_left == -1
        subset = np.asarray(subset, dtype=np.int64)
        features.append(np.where(leaf, -1, subset[np.clip(nodes.feature, 0, None)]))
        thresholds.append(nodes.threshold.astype(np.float64))
        lefts.append(np.where(leaf, -1, nodes.children_left + offset))
        rights.append(np.where(leaf, -1, nodes.children_right + offset))
        values.append(depth + correction - 1.0)
        roots.append(offset)
        offset += nodes.node_count
    from sklearn.ensemble._iforest import _average_path_length  # the reference's own rounding

    average_path = float(_average_path_length([max_samples])[0])
    return {
        "feature": np.concatenate(features).astype(np.int64),
        "threshold": np.concatenate(thresholds),
        "left": np.concatenate(lefts).astype(np.int64),
        "right": np.concatenate(rights).astype(np.int64),
        "value": np.concatenate(values).astype(np.float64),
        "roots": np.asarray(roots, dtype=np.int64),
        "denominator": np.float64(len(forest.estimators_) * average_path),
        "offset": np.float64(forest.offset_),
    }


IFOREST = Detector(
    name="iforest",
    reference="pyod.models.iforest:IForest",
    parameters=frozenset(
        {"n_estimators", "max_samples", "max_features", "bootstrap", "random_state", "n_jobs"}
    ),
    extract=extract,
)
