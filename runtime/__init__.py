"""The data plane of raynomaly: Ray Serve applications that score model versions."""
