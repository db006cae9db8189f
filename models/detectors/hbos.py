"""HBOS: per-feature bin edges and log densities, fixed or "auto" bin counts alike."""

import numba
import numpy as np

from models.detectors.spec import Detector, Params


@numba.njit(cache=True)
def _numba_log2(values):
    # PyOD computes fixed-bin log densities inside Numba, whose log2 rounds unlike NumPy's
    return np.log2(values)


def extract(fitted) -> Params:
    """Bin edges and log2(density + alpha) per feature, padded to the widest feature."""
    auto = isinstance(fitted.n_bins, str)
    log2 = np.log2 if auto else _numba_log2
    if auto:
        edges = [np.asarray(e, dtype=np.float64) for e in fitted.bin_edges_]
        densities = [np.asarray(h, dtype=np.float64) for h in fitted.hist_]
    else:
        edges = list(np.asarray(fitted.bin_edges_, dtype=np.float64).T)
        densities = list(np.asarray(fitted.hist_, dtype=np.float64).T)
    widest = max(len(d) for d in densities)
    padded_edges = np.full((len(edges), widest + 1), np.inf)
    log_density = np.full((len(edges), widest), -np.inf)
    minimum = np.empty(len(edges))
    for f, (edge, density) in enumerate(zip(edges, densities, strict=True)):
        padded_edges[f, : len(edge)] = edge
        log_density[f, : len(density)] = log2(density + fitted.alpha)
        minimum[f] = np.min(log_density[f, : len(density)])
    return {
        "edges": padded_edges,
        "log_density": log_density,
        "min_log_density": minimum,
        "n_bins": np.asarray([len(d) for d in densities], dtype=np.int64),
        "tol": np.float64(fitted.tol),
    }


HBOS = Detector(
    name="hbos",
    reference="pyod.models.hbos:HBOS",
    parameters=frozenset({"n_bins", "alpha", "tol"}),
    extract=extract,
)
