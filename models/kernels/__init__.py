"""Numba kernels: the compiled scoring code of every detector.

Each module scores rows against the parameters extracted from a fitted reference detector
(`models.detectors`). Kernels are single-threaded (one thread per serving replica: thread pools
fight on small machines; the KNN/LOF screen's BLAS product follows the process's BLAS thread
setting), release the GIL, and never reorder the reference's floating-point operations, so
most reproduce its scores bit for bit.
"""
