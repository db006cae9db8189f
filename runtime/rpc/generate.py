"""Generate the gRPC stubs next to the `.proto` files (run by `make setup`; output is not committed).

python -m runtime.rpc.generate
"""

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ("runtime/rpc/raynomaly.proto", "runtime/rpc/open_inference.proto")


def main() -> int:
    """Run protoc with the package path as include root, so the stubs import each other by package."""
    protos = [str(ROOT / proto) for proto in PROTOS]
    return protoc.main(["protoc", f"-I{ROOT}", f"--python_out={ROOT}", f"--grpc_python_out={ROOT}", *protos])


if __name__ == "__main__":
    sys.exit(main())
