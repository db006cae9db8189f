"""Reductions that round exactly like NumPy's, so compiled scores match the reference bit for bit."""

import numba
import numpy as np

_BLOCK = 128  # numpy's PW_BLOCKSIZE


@numba.njit(cache=True, nogil=True)
def _block_sum(values, start, count):
    if count < 8:
        total = 0.0
        for i in range(count):
            total += values[start + i]
        return total
    r = np.empty(8)
    for j in range(8):
        r[j] = values[start + j]
    i = 8
    while i < count - (count % 8):
        for j in range(8):
            r[j] += values[start + i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < count:
        total += values[start + i]
        i += 1
    return total


@numba.njit(cache=True, nogil=True)
def pairwise_sum(values: np.ndarray, start: int, count: int) -> float:
    """Sum `values[start:start+count]` in NumPy's pairwise order (what `np.sum(axis=-1)` does)."""
    if count <= _BLOCK:
        return _block_sum(values, start, count)
    # NumPy recurses on halves (multiples of 8); an explicit post-order stack does the same
    # without recursion, which Numba's on-disk cache does not reload safely.
    task_start = np.empty(128, dtype=np.int64)
    task_count = np.empty(128, dtype=np.int64)
    task_combine = np.empty(128, dtype=np.bool_)
    partial = np.empty(128)
    tasks, partials = 1, 0
    task_start[0], task_count[0], task_combine[0] = start, count, False
    while tasks > 0:
        tasks -= 1
        s, c, combine = task_start[tasks], task_count[tasks], task_combine[tasks]
        if combine:
            partials -= 1
            partial[partials - 1] = partial[partials - 1] + partial[partials]
        elif c <= _BLOCK:
            partial[partials] = _block_sum(values, s, c)
            partials += 1
        else:
            half = c // 2
            half -= half % 8
            task_start[tasks], task_count[tasks], task_combine[tasks] = s, c, True
            task_start[tasks + 1], task_count[tasks + 1], task_combine[tasks + 1] = s + half, c - half, False
            task_start[tasks + 2], task_count[tasks + 2], task_combine[tasks + 2] = s, half, False
            tasks += 3
    return partial[0]
