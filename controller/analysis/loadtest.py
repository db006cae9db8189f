"""The load-test gate's request (`LoadTest`): how hard to load the pinned candidate and what it must
hold; and `parse_duration`, the CLI's form of a length of time."""

from pydantic import BaseModel, ConfigDict, Field


class LoadTest(BaseModel):
    """A Locust gate run against the pinned candidate at every analysed step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = Field(default=8, ge=1, le=1000)
    duration_s: float = Field(default=10.0, gt=0, le=600)
    max_p99_ms: float = Field(default=500.0, gt=0)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    rps: float | None = Field(default=None, gt=0, le=100_000)
    """A steady rate, shared by the users; None: each user sends its next request at once."""

    @classmethod
    def parse(cls, text: str) -> "LoadTest":
        """`users=U,duration=D[s|m],p99=MS,errors=RATE[,rps=R]` (CLI) -> LoadTest; ValueError naming
        the bad key."""
        keys = {
            "users": "users", "duration": "duration_s", "p99": "max_p99_ms",
            "errors": "max_error_rate", "rps": "rps",
        }  # fmt: skip
        values = {}
        for item in filter(None, text.split(",")):
            key, _, value = item.partition("=")
            if key not in keys or not value:
                raise ValueError(f"load test {item!r}: use users=U,duration=D,p99=MS,errors=RATE[,rps=R]")
            values[keys[key]] = parse_duration(value) if key == "duration" else float(value)
        return cls(**values)


def parse_duration(text: str) -> float:
    """`30s`, `2m`, `1h` or plain seconds -> seconds; ValueError naming the text."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise ValueError(f"duration {text!r}: use seconds, or a number with s, m or h (e.g. 30s)") from None
