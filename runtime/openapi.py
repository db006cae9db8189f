"""What the gateway's OpenAPI document declares for its routes that read raw bodies: the bodies
(JSON, Arrow IPC, .npy), the query and headers they read, and their answers, the scores or an
error `{"error": "...", "status": N}` for every status in `runtime.errors.STATUS`.

The routes read their bodies themselves (no FastAPI model: orjson, limits before decoding), so
these are written as `openapi_extra` and `responses` of the route decorators."""

from runtime.codec import ARROW, JSON, NPY
from runtime.errors import STATUS

PIN_HEADER = "x-model-version"

NUMBER = {"type": "number"}
FEATURES = {
    "description": "One row: the values in the version's feature order, or feature name -> value.",
    "oneOf": [
        {"type": "array", "items": NUMBER},
        {"type": "object", "additionalProperties": NUMBER},
    ],
}
BINARY = {"type": "string", "format": "binary"}

ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {
        "error": {"type": "string", "description": "What was wrong and what to do."},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
    },
}
SCORES = {
    "type": "object",
    "required": ["model", "version", "threshold", "scores", "labels"],
    "properties": {
        "model": {"type": "string"},
        "version": {"type": "integer", "description": "The version that scored every row."},
        "threshold": NUMBER,
        "scores": {"type": "array", "items": NUMBER, "description": "One score per row, in order."},
        "labels": {"type": "array", "items": {"enum": [0, 1]}, "description": "1: an anomaly."},
    },
}
_MEANING = {
    400: "The body or its rows are malformed; the error names what.",
    404: "No traffic for the model, or the pinned version is not deployed.",
    413: "The body or its rows are over the gateway's limits.",
    401: "No key, or one that does not verify, has expired or was revoked (WWW-Authenticate: Bearer).",
    403: "The key may not score this model.",
    429: "The key's caller is over its rate; Retry-After says when to retry.",
    503: "The routed version is not ready, or the queues are full; Retry-After says when to retry.",
}
BEARER = "bearer"
"""The security scheme of the scoring routes: a key minted by `raynomaly controller token`."""
SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "An inference key (any role; a client key may name its models and rate). Required "
    "unless the runtime was started with --insecure-no-auth.",
}
SECURED = {"security": [{BEARER: []}]}


def errors() -> dict:
    """Every status the error table can answer, each with the error body."""
    statuses = sorted({status for status, _ in STATUS.values()})
    return {
        status: {"description": _MEANING.get(status, "See the error."), "content": {JSON: {"schema": ERROR}}}
        for status in statuses
    }


PIN = {
    "name": PIN_HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Score with this version (deployed for the model) instead of routing by weight.",
}
BATCH_MODEL = {
    "name": "model",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": "The model of an Arrow or .npy body (a JSON body names it in the body).",
}


def _named(rows: str, schema: dict) -> dict:
    """A JSON body: the model's name and its rows under `rows`."""
    return {
        "type": "object",
        "required": ["model", rows],
        "properties": {"model": {"type": "string", "minLength": 1}, rows: schema},
    }


PREDICT = {
    **SECURED,
    "parameters": [PIN],
    "requestBody": {
        "required": True,
        "content": {JSON: {"schema": _named("features", FEATURES)}},
    },
}
PREDICT_BATCH = {
    **SECURED,
    "parameters": [BATCH_MODEL, PIN],
    "requestBody": {
        "required": True,
        "content": {
            JSON: {
                "schema": _named("instances", {"type": "array", "items": {"type": "array", "items": NUMBER}})
            },
            ARROW: {"schema": BINARY, "description": "An Arrow IPC stream: one column per feature."},
            NPY: {"schema": BINARY, "description": "A 2-D .npy array: rows x features."},
        },
    },
}
ANSWERS = {200: {"description": "The scores.", "content": {JSON: {"schema": SCORES}}}, **errors()}
BATCH_ANSWERS = {
    200: {
        "description": "The scores; an Arrow stream (score, label) when Accept names Arrow.",
        "content": {JSON: {"schema": SCORES}, ARROW: {"schema": BINARY}},
    },
    **errors(),
}
READY = {
    503: {
        "description": "A version failed to load, or a dedicated version's application is not running.",
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "required": ["ready"],
                    "properties": {
                        "ready": {"const": False},
                        "failed": {"type": "string"},
                        "waiting": {"type": "array", "items": {"type": "string"}},
                    },
                }
            }
        },
    }
}


def declare_bearer(app) -> None:
    """Make `app`'s OpenAPI document declare the bearer scheme its scoring routes name."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER] = SCHEME
        return app.openapi_schema

    app.openapi = openapi
