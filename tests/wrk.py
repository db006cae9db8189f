"""wrk (Debian's package), the C load generator the live tests and benchmarks drive: it leaves the
cores to the server where a Python client would take one itself.

`run(url, body, content_type, connections, seconds)` POSTs the same body over `connections`
keep-alive connections and returns what wrk counted, read from a Lua `done` hook as JSON.
"""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCRIPT = """
wrk.method = "POST"
local f = io.open(os.getenv("WRK_BODY"), "rb"); wrk.body = f:read("*all"); f:close()
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE")
for extra in (os.getenv("WRK_HEADER") or ""):gmatch("[^\\n]+") do
  local name, value = extra:match("([^:]+):%s*(.*)")
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nWRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Result:
    """What one wrk run counted."""

    requests: int
    seconds: float
    failed: int
    """Connection errors, timeouts and non-2xx/3xx answers."""
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def run(url: str, body: bytes, content_type: str, connections: int, seconds: float,
        header: str = "", threads: int = 2) -> Result:  # fmt: skip
    """One wrk run (`header`: extra "Name: value" lines); RuntimeError with wrk's output if it
    printed no summary."""
    with tempfile.TemporaryDirectory() as folder:
        script, payload = Path(folder) / "post.lua", Path(folder) / "body"
        script.write_text(SCRIPT)
        payload.write_bytes(body)
        command = [shutil.which("wrk") or "wrk", f"-t{min(threads, connections)}", f"-c{connections}",
                   f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]  # fmt: skip
        env = {"WRK_BODY": str(payload), "WRK_CONTENT_TYPE": content_type, "WRK_HEADER": header}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    counted = json.loads(line.removeprefix("WRK_JSON "))
    failed = sum(counted[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(counted["requests"], counted["duration_us"] / 1e6, failed,
                  counted["p50_us"] / 1000, counted["p99_us"] / 1000)  # fmt: skip
