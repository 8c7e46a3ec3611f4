"""wrk as the benchmarks' HTTP load generator: one POST body, fixed headers, parsed figures."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
SIZES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


@dataclass(frozen=True)
class Load:
    """How hard to push: wrk connections, measured seconds and warm-up seconds (one wrk thread)."""

    connections: int = 32
    seconds: int = 8
    warmup: int = 2
    # wrk's default (2 s) would drop a slow answer as a socket error and send the
    # next request while the server still works on the abandoned one.
    timeout: int = 30


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    # Response bytes (headers included): with ``requests``, a check that every answer had the expected size.
    bytes_read: int
    # Responses other than 2xx/3xx and socket errors; a valid run has none.
    non_2xx: int
    socket_errors: int
    command: str
    output: str


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse(output: str, command: str) -> WrkResult:
    """Figures of ``wrk --latency`` output."""
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)\s*$", output, re.MULTILINE))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = re.search(r"^\s+(\d+) requests in [\d.]+\w+, ([\d.]+)([KMG]?B) read", output, re.MULTILINE)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None or requests is None or "50" not in percentiles or "99" not in percentiles:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        requests=int(requests.group(1)),
        bytes_read=round(float(requests.group(2)) * SIZES[requests.group(3)]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
        command=command,
        output=output,
    )


def script(path: Path, body: str, headers: Mapping[str, str]) -> Path:
    """A wrk Lua script that POSTs ``body`` with ``headers`` (wrk has no flag for a body)."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk(url: str, lua: Path, load: Load, before: Callable[[], object] | None = None) -> WrkResult:
    """A warm-up run (discarded), ``before()``, then the measured run.

    wrk stops with requests in flight: ``before`` should send one request and wait
    for its answer, so that the measured run does not start behind the warm-up's
    backlog (and take any reading that the measured run is compared with).
    """
    base = ["wrk", "-t1", f"-c{load.connections}", f"--timeout={load.timeout}s", "--latency", "-s", str(lua)]
    if load.warmup > 0:
        subprocess.run([*base, f"-d{load.warmup}s", url], capture_output=True, check=True)
    if before is not None:
        before()
    command = [*base, f"-d{load.seconds}s", url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse(done.stdout, " ".join(command))
