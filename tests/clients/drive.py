"""One Open Inference Protocol client, unmodified, making the calls a JSON document lists.

    .venv-clients/bin/python tests/clients/drive.py CLIENT URL [--ca FILE] < document.json

CLIENT is triton-http or triton-grpc (URL `host:port`) or kserve-rest (URL `http://host:port`, or
`https://` with --ca). The document is `{"headers": {...}, "calls": [...]}` (FIELDS lists each call's
fields and defaults); stdout gets one result per call, in order: `{"value": ...}` or
`{"error": message, "status": status}`, the status being the HTTP status, the gRPC status name
("INVALID_ARGUMENT"), or 0 where none came back (no connection, a request the client refused to make,
a call it does not offer). gRPC metadata is the client's `as_json=True`: int64 fields (shapes) are strings.

Each client is imported only when chosen: kserve and tritonclient.grpc cannot share a process.
"""

import argparse
import asyncio
import contextlib
import json
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

DTYPES = {
    "FP64": np.float64, "FP32": np.float32, "FP16": np.float16,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64, "BOOL": np.bool_,
}  # fmt: skip
MODEL = {"model": ..., "version": ""}  # `...`: the call must give the field
FIELDS = {
    "live": {},
    "ready": {},
    "server_metadata": {},
    "model_ready": MODEL,
    "model_metadata": MODEL,
    "infer": {
        **MODEL, "rows": ..., "input": "features", "datatype": "FP64", "binary": True,
        "outputs": None, "binary_output": True, "id": None, "shape": None,
    },
}  # fmt: skip
NOT_OFFERED = "not offered by this client"


class NotOffered(Exception):
    """The client has no way to make this request as asked."""


@dataclass(frozen=True)
class Client:
    """One client's calls (name -> function of the call and the headers) and how its errors read."""

    calls: dict[str, Callable[[dict, dict], Any]]
    failure: Callable[[Exception], dict]


def parse(document: Any) -> tuple[dict, list[dict]]:
    """The headers and the calls, each filled with its defaults; ValueError naming what is wrong. Pure."""
    if not isinstance(document, dict) or set(document) - {"headers", "calls"}:
        raise ValueError('the document must be {"headers": {...}, "calls": [...]}')
    headers, calls = document.get("headers") or {}, document.get("calls", [])
    if not isinstance(headers, dict) or not isinstance(calls, list):
        raise ValueError('"headers" must be an object and "calls" a list')
    filled = []
    for index, call in enumerate(calls):
        name = call.get("call") if isinstance(call, dict) else None
        if name not in FIELDS:
            raise ValueError(f"call {index}: {name!r} is no call; give one of {sorted(FIELDS)}")
        fields = {**FIELDS[name], **call}
        if unknown := set(fields) - set(FIELDS[name]) - {"call"}:
            raise ValueError(f"call {index} ({name}): unknown fields {sorted(unknown)}; see FIELDS")
        if missing := [key for key, value in fields.items() if value is ...]:
            raise ValueError(f"call {index} ({name}): give the fields {missing}")
        if name == "infer" and fields["datatype"] not in DTYPES:
            raise ValueError(
                f"call {index}: no datatype {fields['datatype']!r}; give one of {sorted(DTYPES)}"
            )
        filled.append(fields)
    return headers, filled


def tensor(call: dict) -> np.ndarray:
    """The call's rows as an array of its datatype."""
    return np.array(call["rows"], dtype=DTYPES[call["datatype"]])


def answer(model_name, model_version, request_id, outputs: list[tuple[str, str, np.ndarray]]) -> dict:
    """An inference response as JSON: each output (name, datatype, array) flattened, with its shape."""
    return {
        "model_name": model_name,
        "model_version": model_version,
        "id": request_id,
        "outputs": {name: array.ravel().tolist() for name, _, array in outputs},
        "datatypes": {name: datatype for name, datatype, _ in outputs},
        "shapes": {name: list(array.shape) for name, _, array in outputs},
    }


def unexpected(error: Exception) -> dict:
    """An error that carries no status: the connection, or the client refusing the request."""
    return {"error": f"{type(error).__name__}: {error}", "status": 0}


def triton(url: str, ca: str | None, grpc: bool) -> Client:
    """tritonclient.http or .grpc: the same calls, but gRPC has no JSON tensors and answers protobuf."""
    if grpc:
        import tritonclient.grpc as module

        client = module.InferenceServerClient(url, ssl=ca is not None, root_certificates=ca)
    else:
        import tritonclient.http as module

        ssl_options = {"ca_certs": ca} if ca else None
        client = module.InferenceServerClient(url, ssl=ca is not None, ssl_options=ssl_options)
    from tritonclient.utils import InferenceServerException

    as_json = {"as_json": True} if grpc else {}

    def infer(call: dict, headers: dict) -> dict:
        data = tensor(call)
        infer_input = module.InferInput(call["input"], list(data.shape), call["datatype"])
        infer_input.set_data_from_numpy(data, **({} if grpc else {"binary_data": call["binary"]}))
        if call["shape"] is not None:
            infer_input.set_shape(call["shape"])
        outputs = None
        if call["outputs"] is not None:
            binary = {} if grpc else {"binary_data": call["binary_output"]}
            outputs = [module.InferRequestedOutput(name, **binary) for name in call["outputs"]]
        result = client.infer(
            call["model"],
            [infer_input],
            model_version=call["version"],
            outputs=outputs,
            request_id=call["id"] or "",
            headers=headers,
        )
        response = result.get_response()
        if grpc:
            response = {key: getattr(response, key) for key in ("model_name", "model_version", "id")} | {
                "outputs": [{"name": o.name, "datatype": o.datatype} for o in response.outputs]
            }
        named = [(o["name"], o["datatype"], result.as_numpy(o["name"])) for o in response["outputs"]]
        return answer(response["model_name"], response.get("model_version"), response.get("id"), named)

    def failure(error: Exception) -> dict:
        if not isinstance(error, InferenceServerException):
            return unexpected(error)
        status = error.status() or "0"  # HTTP "400", gRPC "StatusCode.NOT_FOUND"; None: refused by the client
        return {
            "error": error.message(),
            "status": int(status) if status.isdigit() else status.split(".")[-1],
        }

    return Client(
        calls={
            "live": lambda call, headers: client.is_server_live(headers=headers),
            "ready": lambda call, headers: client.is_server_ready(headers=headers),
            "model_ready": lambda call, headers: client.is_model_ready(
                call["model"], call["version"], headers=headers
            ),
            "server_metadata": lambda call, headers: client.get_server_metadata(headers=headers, **as_json),
            "model_metadata": lambda call, headers: client.get_model_metadata(
                call["model"], call["version"], headers=headers, **as_json
            ),
            "infer": infer,
        },
        failure=failure,
    )


def kserve_rest(url: str, ca: str | None) -> Client:
    """KServe's InferenceRESTClient, protocol v2: health, model readiness and inference, no versions."""
    import httpx
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
    from kserve.protocol.infer_type import RequestedOutput

    verify = ssl.create_default_context(cafile=ca) if ca else True
    client = InferenceRESTClient(RESTConfig(protocol="v2", verify=verify))
    runner = asyncio.Runner()

    def unversioned(call: dict) -> None:
        if call["version"]:
            raise NotOffered(f"{NOT_OFFERED}: InferenceRESTClient addresses no model version")

    async def model_ready(call: dict, headers: dict) -> bool:
        unversioned(call)
        return await client.is_model_ready(url, call["model"], headers=headers)

    async def infer(call: dict, headers: dict) -> dict:
        unversioned(call)
        data = tensor(call)
        infer_input = InferInput(call["input"], list(data.shape), call["datatype"])
        infer_input.set_data_from_numpy(data, binary_data=call["binary"])
        if call["shape"] is not None:
            infer_input.shape = call["shape"]
        outputs = None
        if call["outputs"] is not None:
            outputs = [
                RequestedOutput(name, {"binary_data": call["binary_output"]}) for name in call["outputs"]
            ]
        request = InferRequest(call["model"], [infer_input], request_id=call["id"], request_outputs=outputs)
        response = await client.infer(url, request, model_name=call["model"], headers=headers)
        named = [(o.name, o.datatype, o.as_numpy()) for o in response.outputs]
        return answer(response.model_name, response.model_version, response.id, named)

    def failure(error: Exception) -> dict:
        if isinstance(error, httpx.HTTPStatusError):
            return {"error": str(error), "status": error.response.status_code}
        return unexpected(error)

    coroutines = {
        "live": lambda call, headers: client.is_server_live(url, headers=headers),
        "ready": lambda call, headers: client.is_server_ready(url, headers=headers),
        "model_ready": model_ready,
        "infer": infer,
    }
    return Client(
        calls={
            name: lambda call, headers, coroutine=coroutine: runner.run(coroutine(call, headers))
            for name, coroutine in coroutines.items()
        },
        failure=failure,
    )


CLIENTS = {
    "triton-http": lambda url, ca: triton(url, ca, grpc=False),
    "triton-grpc": lambda url, ca: triton(url, ca, grpc=True),
    "kserve-rest": kserve_rest,
}


def result(client: Client, call: dict, headers: dict) -> dict:
    """One call's result: {"value": ...}, or {"error", "status"} whatever went wrong."""
    function = client.calls.get(call["call"])
    if function is None:
        return {"error": NOT_OFFERED, "status": 0}
    try:  # a copy of the headers: the clients add their binary headers to the mapping they are given
        return {"value": function(call, dict(headers))}
    except NotOffered as error:
        return {"error": str(error), "status": 0}
    except Exception as error:
        return client.failure(error)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("client", choices=sorted(CLIENTS))
    parser.add_argument(
        "url", help="host:port for triton-http and triton-grpc, http(s)://host:port for kserve-rest"
    )
    parser.add_argument("--ca", help="the CA certificate (PEM) that verifies the server: TLS")
    args = parser.parse_args()
    try:
        headers, calls = parse(json.load(sys.stdin))
    except ValueError as error:
        print(f"drive.py: the document on stdin: {error}", file=sys.stderr)
        return 2
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the results alone
        client = CLIENTS[args.client](args.url, args.ca)
        results = [result(client, call, headers) for call in calls]
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
