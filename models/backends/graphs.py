"""ONNX graphs built from extracted parameters (training side only: needs the `onnx` package).

IsolationForest becomes one fused `TreeEnsemble` node (ai.onnx.ml opset 5, float64) over all
trees with `depth + c(n_leaf) - 1` leaf values, instead of skl2onnx's thousands of nodes in
float32. Rows are rounded to float32 first, as scikit-learn does before comparing thresholds.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.backends.spec import Params

_OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 5)]


def _constant(name: str, value) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name))


def _model(nodes: list, n_features: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "raynomaly",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, n_features])],
        [helper.make_tensor_value_info("score", TensorProto.DOUBLE, [None])],
    )
    model = helper.make_model(graph, opset_imports=_OPSETS, producer_name="raynomaly")
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def _tree_ensemble(params: Params) -> onnx.NodeProto:
    feature, left, right = params["feature"], params["left"], params["right"]
    interior = np.flatnonzero(feature >= 0)
    leaves = np.flatnonzero(feature < 0)
    interior_id = np.full(len(feature), -1)
    interior_id[interior] = np.arange(len(interior))
    leaf_id = np.full(len(feature), -1)
    leaf_id[leaves] = np.arange(len(leaves))
    split_feature, split, true_ids, true_leaf, false_ids, false_leaf = [], [], [], [], [], []

    def child(node: int) -> tuple[int, int]:
        return (leaf_id[node], 1) if feature[node] < 0 else (interior_id[node], 0)

    for node in interior:
        split_feature.append(int(feature[node]))
        split.append(params["threshold"][node])
        for target, is_leaf, branch in ((true_ids, true_leaf, left), (false_ids, false_leaf, right)):
            index, leaf = child(int(branch[node]))
            target.append(int(index))
            is_leaf.append(leaf)
    roots = []
    for root in params["roots"]:
        if feature[root] >= 0:
            roots.append(int(interior_id[root]))
            continue
        # a tree that is one leaf: a split whose branches both reach that leaf
        roots.append(len(split_feature))
        split_feature.append(0)
        split.append(0.0)
        for target, is_leaf in ((true_ids, true_leaf), (false_ids, false_leaf)):
            target.append(int(leaf_id[root]))
            is_leaf.append(1)
    return helper.make_node(
        "TreeEnsemble",
        ["X64"],
        ["depth"],
        domain="ai.onnx.ml",
        aggregate_function=1,  # SUM
        post_transform=0,
        n_targets=1,
        tree_roots=roots,
        nodes_featureids=split_feature,
        nodes_modes=numpy_helper.from_array(np.zeros(len(split), dtype=np.uint8)),  # BRANCH_LEQ
        nodes_splits=numpy_helper.from_array(np.asarray(split, dtype=np.float64)),
        nodes_truenodeids=true_ids,
        nodes_trueleafs=true_leaf,
        nodes_falsenodeids=false_ids,
        nodes_falseleafs=false_leaf,
        leaf_targetids=[0] * len(leaves),
        leaf_weights=numpy_helper.from_array(params["value"][leaves].astype(np.float64)),
    )


def iforest(params: Params, n_features: int) -> onnx.ModelProto:
    """PyOD IForest scores: 2 ** -(sum of leaf values / c(max_samples)) + offset."""
    return _model(
        [
            helper.make_node("Cast", ["X"], ["X32"], to=TensorProto.FLOAT),
            helper.make_node("Cast", ["X32"], ["X64"], to=TensorProto.DOUBLE),
            _tree_ensemble(params),
            _constant("denominator", params["denominator"]),
            _constant("two", np.float64(2.0)),
            _constant("offset", params["offset"]),
            _constant("flat", np.array([-1], dtype=np.int64)),
            helper.make_node("Div", ["depth", "denominator"], ["ratio"]),
            helper.make_node("Neg", ["ratio"], ["exponent"]),
            helper.make_node("Pow", ["two", "exponent"], ["power"]),
            helper.make_node("Add", ["power", "offset"], ["column"]),
            helper.make_node("Reshape", ["column", "flat"], ["score"]),
        ],
        n_features,
    )


def pca(params: Params, n_features: int) -> onnx.ModelProto:
    """PyOD PCA scores: sum over minor components of distance / weight, as standard ops."""
    components = params["components"]
    return _model(
        [
            _constant("mean", params["mean"]),
            _constant("scale", params["scale"]),
            _constant("components_t", np.ascontiguousarray(components.T)),
            _constant("component_norms", (components**2).sum(axis=1)[None, :]),
            _constant("weights", params["weights"][None, :]),
            _constant("minus_two", np.float64(-2.0)),
            _constant("zero", np.float64(0.0)),
            _constant("axis", np.array([1], dtype=np.int64)),
            helper.make_node("Sub", ["X", "mean"], ["centred"]),
            helper.make_node("Div", ["centred", "scale"], ["z"]),
            helper.make_node("Mul", ["z", "z"], ["z2"]),
            helper.make_node("ReduceSum", ["z2", "axis"], ["z_norm"], keepdims=1),
            helper.make_node("MatMul", ["z", "components_t"], ["dot"]),
            helper.make_node("Mul", ["dot", "minus_two"], ["cross"]),
            helper.make_node("Add", ["z_norm", "cross"], ["partial"]),
            helper.make_node("Add", ["partial", "component_norms"], ["squared"]),
            helper.make_node("Max", ["squared", "zero"], ["clamped"]),
            helper.make_node("Sqrt", ["clamped"], ["distance"]),
            helper.make_node("Div", ["distance", "weights"], ["weighted"]),
            helper.make_node("ReduceSum", ["weighted", "axis"], ["score"], keepdims=0),
        ],
        n_features,
    )


GRAPHS = {"iforest": iforest, "pca": pca}
