"""gRPC interface: `raynomaly.proto` and the stubs generated from it by `make setup`."""
