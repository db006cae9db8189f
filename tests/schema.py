"""What both OpenAPI fuzz suites share: the schemathesis checks every answer must pass, and a
deterministic, bounded configuration."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
# The coverage phase is off: it sends every boundary of every parameter and body field, hundreds of
# cases per operation, past what a unit test may take; benchmarks/bench_hostile.py runs many more.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 0,
        "generation": {"mode": "all", "deterministic": True},
        "phases": {"coverage": {"enabled": False}},
    }
)


def examples(count: int) -> settings:
    """Hypothesis settings for `count` derandomized examples per operation."""
    return settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
