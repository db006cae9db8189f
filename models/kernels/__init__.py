"""Numba kernels: the compiled scoring code of every detector.

Each module scores rows against the parameters extracted from a fitted reference detector
(`models.detectors`). Kernels are single-threaded (one thread per serving replica: thread pools
fight on small machines), release the GIL, and never use fast-math, so they reproduce the
reference's floating-point operations in the same order.
"""
