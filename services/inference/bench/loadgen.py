"""A small HTTP/1.1 load generator: keep-alive connections sending one prepared
request over and over, bounded by a request count and a duration.

Closed loop (default): each of `--concurrency` connections sends its next
request when the previous response arrives. Open loop (`--rate`): requests
are due at a fixed rate and latency is counted from the due time, so a slow
server cannot hide its queueing delay.

Prints one JSON object: requests, errors, seconds, rps, p50_ms, p90_ms,
p99_ms, max_ms. Run as its own process so it does not share a CPU core's
event loop with what it measures.
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def build_request(url: str, method: str, body: bytes, headers: list[str]) -> bytes:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: keep-alive",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    if body and not any(h.lower().startswith("content-type:") for h in headers):
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one response and return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


class Run:
    def __init__(self, total: int, seconds: float, rate: float | None) -> None:
        self.total = total
        self.seconds = seconds
        self.rate = rate
        self.issued = 0
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}
        self.start = time.perf_counter()
        self.deadline = self.start + seconds

    def next_due(self) -> float | None:
        """Claim the next request; returns its due time, or None when done."""
        if self.issued >= self.total:
            return None
        now = time.perf_counter()
        if now >= self.deadline:
            return None
        due = now if self.rate is None else self.start + self.issued / self.rate
        if due >= self.deadline:
            return None
        self.issued += 1
        return due


async def connection(host: str, port: int, request: bytes, run: Run) -> None:
    reader = writer = None
    while True:
        due = run.next_due()
        if due is None:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status = await asyncio.wait_for(read_response(reader), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            run.errors += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        run.latencies.append(time.perf_counter() - due)
        run.statuses[status] = run.statuses.get(status, 0) + 1
        if status >= 400:
            run.errors += 1
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def main_async(args: argparse.Namespace, body: bytes) -> dict:
    parts = urlsplit(args.url)
    request = build_request(args.url, args.method, body, args.header)
    run = Run(args.requests, args.seconds, args.rate)
    await asyncio.gather(
        *(
            connection(parts.hostname, parts.port or 80, request, run)
            for _ in range(args.concurrency)
        )
    )
    elapsed = time.perf_counter() - run.start
    latencies = sorted(run.latencies)
    return {
        "requests": len(latencies),
        "errors": run.errors,
        "statuses": {str(k): v for k, v in sorted(run.statuses.items())},
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p90_ms": round(percentile(latencies, 0.90) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "max_ms": round(latencies[-1] * 1000, 3) if latencies else float("nan"),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--method", default="POST")
    parser.add_argument("--body-file", help="file whose bytes are the request body")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=10_000, help="maximum count")
    parser.add_argument("--seconds", type=float, default=10.0, help="maximum duration")
    parser.add_argument("--rate", type=float, help="requests per second (open loop)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    payload = Path(arguments.body_file).read_bytes() if arguments.body_file else b""
    print(json.dumps(asyncio.run(main_async(arguments, payload))))
