"""Isolation-forest scoring, exactly as scikit-learn's IsolationForest and fast at every batch size.

scikit-learn compares float32(x) with float64 thresholds. Rows are rounded to float32 once per
batch and thresholds rounded toward -inf to float32, which keeps every comparison's outcome.
Leaf values hold `depth + c(n_leaf) - 1`, summed over trees in order; the final
`2 ** -(depth / c)` is left to NumPy, whose vectorised pow rounds unlike libm's.

Shallow forests (the default `max_samples=256` gives depth 8) are laid out as complete binary
trees: traversal is `index = 2 * index + 1 + (x > threshold)` with no branches to mispredict, and
blocks of rows walk each tree together so that its nodes stay in cache. Deeper forests, whose
complete layout would not fit in cache, walk the node table by pointers.
"""

import numba
import numpy as np

MAX_COMPLETE_DEPTH = 12
_BLOCK = 32


def _depth(feature: np.ndarray, left: np.ndarray, right: np.ndarray, root: int) -> int:
    deepest, stack = 0, [(root, 0)]
    while stack:
        node, level = stack.pop()
        if feature[node] < 0:
            deepest = max(deepest, level)
        else:
            stack += [(left[node], level + 1), (right[node], level + 1)]
    return deepest


def _threshold32(threshold: float) -> np.float32:
    # the largest float32 <= threshold: float32 x <= it exactly when x <= threshold
    rounded = np.float32(threshold)
    return np.nextafter(rounded, np.float32(-np.inf)) if np.float64(rounded) > threshold else rounded


def prepare(params: dict) -> dict:
    """Node-table parameters -> the complete layout when the forest is shallow enough."""
    feature, left, right, value = params["feature"], params["left"], params["right"], params["value"]
    depth = max(_depth(feature, left, right, root) for root in params["roots"])
    if depth > MAX_COMPLETE_DEPTH:
        return params
    trees, inner = len(params["roots"]), 2**depth - 1
    split_feature = np.zeros((trees, inner), dtype=np.int32)
    split = np.full((trees, inner), np.inf, dtype=np.float32)  # +inf: a padded node always goes left
    leaf = np.zeros((trees, inner + 1))
    for t, root in enumerate(params["roots"]):
        stack = [(root, 0, 0)]
        while stack:
            node, position, level = stack.pop()
            if level == depth:
                leaf[t, position - inner] = value[node]
            elif feature[node] < 0:  # a leaf above the bottom: its whole padded subtree reaches it
                stack += [(node, 2 * position + 1, level + 1), (node, 2 * position + 2, level + 1)]
            else:
                split_feature[t, position] = feature[node]
                split[t, position] = _threshold32(params["threshold"][node])
                children = (left[node], 2 * position + 1), (right[node], 2 * position + 2)
                stack += [(child, place, level + 1) for child, place in children]
    return {
        "split_feature": split_feature,
        "split": split,
        "leaf": leaf,
        "depth": np.int64(depth),
        "denominator": params["denominator"],
        "offset": params["offset"],
    }


@numba.njit(cache=True, nogil=True)
def _complete_depths(X32, split_feature, split, leaf, depth):
    n_rows, n_trees, inner = X32.shape[0], split.shape[0], split.shape[1]
    out = np.zeros(n_rows)
    index = np.zeros(_BLOCK, dtype=np.int64)
    for first in range(0, n_rows, _BLOCK):
        block = min(_BLOCK, n_rows - first)
        for t in range(n_trees):
            features, thresholds = split_feature[t], split[t]
            index[:block] = 0
            for _ in range(depth):
                for b in range(block):
                    j = index[b]
                    index[b] = 2 * j + 1 + (X32[first + b, features[j]] > thresholds[j])
            for b in range(block):
                out[first + b] += leaf[t, index[b] - inner]
    return out


@numba.njit(cache=True, nogil=True)
def _pointer_depths(X32, feature, threshold, left, right, value, roots):
    out = np.empty(X32.shape[0])
    for i in range(X32.shape[0]):
        total = 0.0
        for t in range(roots.shape[0]):
            node = roots[t]
            while feature[node] >= 0:
                node = left[node] if np.float64(X32[i, feature[node]]) <= threshold[node] else right[node]
            total += value[node]
        out[i] = total
    return out


def score(params: dict, X: np.ndarray) -> np.ndarray:
    """PyOD IForest scores (higher = more anomalous) of float64 rows `X`."""
    X32 = X.astype(np.float32)
    if "leaf" in params:
        layout = params["split_feature"], params["split"], params["leaf"]
        depths = _complete_depths(X32, *layout, int(params["depth"]))
    else:
        names = ("feature", "threshold", "left", "right", "value", "roots")
        depths = _pointer_depths(X32, *(params[n] for n in names))
    return 2 ** (-(depths / params["denominator"])) + params["offset"]
