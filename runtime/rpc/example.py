"""A minimal gRPC client: score one row and a small batch.

python -m runtime.rpc.example 127.0.0.1:9000 MODEL [N_FEATURES]

The inference key is read from RAYNOMALY_KEY (for the local runtime: the file
`.raynomaly/controller/client_token` that `raynomaly up` wrote) and sent as the `authorization`
metadata.
"""

import os
import sys

import grpc

from runtime.rpc import raynomaly_pb2 as pb
from runtime.rpc import raynomaly_pb2_grpc as pb_grpc


def metadata() -> tuple[tuple[str, str], ...]:
    """The gateway's application name and, when there is one, the inference key."""
    key = os.environ.get("RAYNOMALY_KEY")
    return (("application", "gateway"),) + ((("authorization", f"Bearer {key}"),) if key else ())


def main(address: str, model: str, n_features: int = 8) -> None:
    """Print the answers of Predict and PredictBatch."""
    METADATA = metadata()  # noqa: N806
    stub = pb_grpc.InferenceStub(grpc.insecure_channel(address))
    row = [10.0 * (i + 1) for i in range(n_features)]
    single = stub.Predict(pb.PredictRequest(model=model, features=row), metadata=METADATA)
    print(f"Predict: version {single.version}, score {single.scores[0]:.6g}, label {single.labels[0]}")
    batch = pb.PredictBatchRequest(model=model, values=row * 3, n_features=n_features)
    answer = stub.PredictBatch(batch, metadata=METADATA)
    print(f"PredictBatch: version {answer.version}, scores {[round(s, 6) for s in answer.scores]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 8)
