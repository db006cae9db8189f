"""The Open Inference Protocol (KServe "v2") next to raynomaly's own API: HTTP `/v2/...` with the
binary tensor extension, and gRPC `inference.GRPCInferenceService`, on the gateway's ports."""
