"""The gateway's structured logs: one JSON object a line, each naming the request it belongs to
(`runtime.request_ids`), its model and version when known, and what the call site adds (`status`,
`latency_ms`, ...) through `extra=`.

Only what needs a look is logged: errors, refusals and failed shadow copies, with the request id;
a line for every answered request would cost more than the answer at thousands of requests a second.
"""

import json
import logging
import sys
import time
from datetime import UTC, datetime

from runtime import request_ids

GATEWAY = "raynomaly.gateway"
FIELDS = ("model", "version", "role", "status", "latency_ms", "method", "path")
"""What a line may carry besides time, level, logger, message and request_id."""


class RequestFields(logging.Filter):
    """Stamps each record with the current request's id, model and version (a call site's own
    `extra=` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        facts = request_ids.current()
        if not hasattr(record, "request_id"):
            record.request_id = facts.id if facts else None
        if facts is not None:
            for name in ("model", "version"):
                if getattr(record, name, None) is None:
                    setattr(record, name, getattr(facts, name))
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC, ISO 8601), level, logger, message, request_id, the
    `FIELDS` it has, and the exception's type and text if one is attached."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        line |= {name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None}
        if record.exc_info and record.exc_info[0] is not None:
            line["error_type"] = record.exc_info[0].__name__
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def handler(stream=None) -> logging.Handler:
    """A handler writing JSON lines to `stream` (stderr: the Ray worker's log file)."""
    written = logging.StreamHandler(stream or sys.stderr)
    written.setFormatter(JsonFormatter())
    written.addFilter(RequestFields())
    return written


def configure(name: str = GATEWAY) -> logging.Logger:
    """Send logger `name` to stderr as JSON lines (INFO and up), once per process, and not also
    through the root logger's plain text."""
    logger = logging.getLogger(name)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        logger.addHandler(handler())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def failed_answer(status: int, error: BaseException | None = None, **fields) -> None:
    """Log one failed answer of the current request: a refusal or client mistake (4xx) as a warning,
    a server error (5xx) as an error with its traceback; with its latency so far."""
    facts = request_ids.current()
    if facts is not None:
        fields["latency_ms"] = round((time.perf_counter() - facts.started) * 1000, 3)
    said = f": {error}" if error is not None and status < 500 else ""
    message = f"answered {status}{said}"
    level = logging.ERROR if status >= 500 else logging.WARNING
    exc_info = error if status >= 500 and error is not None else None
    logging.getLogger(GATEWAY).log(level, message, exc_info=exc_info, extra={"status": status, **fields})
