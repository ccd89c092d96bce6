"""The load generator: aiohttp with keep-alive, open-loop (coordinated-omission corrected) and closed-loop.

* **Open loop** (:meth:`LoadGenerator.open_loop`): requests are *scheduled* at fixed arrival times
  (``t0 + i / rate`` or Poisson) whether or not earlier ones have answered, and each latency is
  measured from its **intended** send time, so a stalled server shows the queueing its clients would
  see (coordinated omission, Gil Tene; the wrk2 approach). The service time is kept beside it.
* **Closed loop** (:meth:`LoadGenerator.closed_loop`): ``C`` workers, each sending its next
  request when the last one answered; latency is service time by construction.
* The generator keeps its own garbage collector out of the figures (:class:`_HeldCollector`): a full
  collection over a long soak's outcomes stalls the send loop and bunches the requests due
  (the figures are in docs/measurements.md).
* It measures its own CPU and send lag; when *it* was the bottleneck the step is flagged.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from twinbench.measure.stats import summarize

__all__ = [
    "COLD_HEADER",
    "LoadGenerator",
    "Outcome",
    "arrival_offsets",
    "status_counts",
    "step_result",
]

from twinserve.headers import COLD_HEADER, INIT_HEADER  # noqa: E402  (re-exported for the targets)

from twinbench.local_lambda.events import LOCAL_REQUEST_ID_HEADER  # noqa: E402

# Above this share of one core, or with a p99 send lag above SEND_LAG_BOTTLENECK_MS, the
# generator itself limited the step (it runs one event loop on one core).
CPU_BOTTLENECK_FRACTION = 0.85
SEND_LAG_BOTTLENECK_MS = 5.0


@dataclass(slots=True)
class Outcome:
    """One request. Times in ms; ``status`` 0 means no HTTP answer (``error`` says why)."""

    status: int
    latency_ms: float  # from the intended send time (open loop) or the actual send (closed loop)
    service_ms: float  # from the actual send
    send_lag_ms: float  # actual send - intended send
    done_s: float  # completion time, seconds since the step started
    cold: bool | None = None  # the handler's cold header, when present
    init_ms: float | None = None
    error: str | None = None
    request_id: str | None = None  # the local Lambda's invocation id, when its front sent one

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def arrival_offsets(rate_rps: float, duration_s: float, kind: str = "constant", seed: int = 0) -> list[float]:
    """Intended send times (seconds from the step start) of an open-loop step.

    ``constant``: evenly spaced, ``i / rate`` (wrk2-style). ``poisson``: exponential gaps with a
    seeded RNG (reproducible). Raises ``ValueError`` on a non-positive rate or duration.
    """
    if rate_rps <= 0 or duration_s <= 0:
        raise ValueError("rate_rps and duration_s must be > 0")
    if kind == "constant":
        count = int(rate_rps * duration_s)
        return [i / rate_rps for i in range(count)]
    if kind == "poisson":
        rng = random.Random(seed)
        offsets, t = [], 0.0
        while True:
            t += rng.expovariate(rate_rps)
            if t >= duration_s:
                return offsets
            offsets.append(t)
    raise ValueError(f"unknown arrival kind {kind!r} (constant|poisson)")


ProgressFn = Callable[[dict], None]


@dataclass
class _Meter:
    """Wall and CPU time of the generator over one step."""

    wall0: float = field(default_factory=time.perf_counter)
    cpu0: float = field(default_factory=time.process_time)

    def cpu_fraction(self) -> float:
        wall = time.perf_counter() - self.wall0
        return (time.process_time() - self.cpu0) / wall if wall > 0 else 0.0


class _HeldCollector:
    """Freezes the generator's long-lived objects into gc's permanent generation once a second.

    Why: every outcome of a step lives until the step ends, so the heap grows linearly and each
    full collection walks all of it (277 ms for 350,000 finished requests, measured here); while it
    runs no request is sent, and the ones due go out together when it ends. Frozen objects are not
    walked; young garbage is still collected. :meth:`release` returns everything to gc after the step.
    """

    PERIOD_S = 1.0

    def __init__(self) -> None:
        self._last = time.perf_counter()
        gc.freeze()

    def tick(self) -> None:
        now = time.perf_counter()
        if now - self._last >= self.PERIOD_S:
            self._last = now
            gc.freeze()

    @staticmethod
    def release() -> None:
        gc.unfreeze()


class LoadGenerator:
    """An aiohttp session against one base URL; use as ``async with LoadGenerator(...) as gen``."""

    def __init__(
        self,
        base_url: str,
        body: bytes | Sequence[bytes],
        path: str = "/predict",
        timeout_s: float = 10.0,
        max_connections: int = 256,
        sign: Callable[[str, str, dict[str, str], bytes], dict[str, str]] | None = None,
    ) -> None:
        """``sign``: (method, url, headers, body) -> headers to send, called per request (SigV4 for an
        IAM-authenticated Function URL: ``twinserve.client.sigv4.SigV4Signer(url, reuse_s=1.0).sign``,
        ~2 us per request with reuse, ~90 us without)."""
        self.url = base_url.rstrip("/") + path
        self.sign = sign
        # Several bodies (the model's registered rows) are sent round-robin, so the figures are of
        # the model on its real inputs, not on one row that may take one path through every tree.
        self.bodies = [body] if isinstance(body, bytes) else list(body)
        if not self.bodies:
            raise ValueError("LoadGenerator needs at least one request body")
        self.body = self.bodies[0]
        self._sent = 0
        self.timeout_s = timeout_s
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self.started_monotonic_s: float | None = None  # the last open loop's offset 0, see open_loop_at

    async def __aenter__(self) -> LoadGenerator:
        connector = aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=60, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            headers={"content-type": "application/json"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def one(self, intended: float | None, start: float) -> Outcome:
        """Send one request; ``intended``/``start`` are ``perf_counter`` seconds (start = step start).

        ``intended=None`` (closed loop): the request is sent when the sender is ready, so its
        latency is its service time.
        """
        assert self._session is not None, "use LoadGenerator as an async context manager"
        # Signed before the send time is taken: service time excludes it, open-loop latency
        # (from the intended time) includes it, as any client's own overhead.
        body = self.bodies[self._sent % len(self.bodies)]
        self._sent += 1
        headers = self.sign("POST", self.url, {"content-type": "application/json"}, body) if self.sign else None
        sent = time.perf_counter()
        if intended is None:
            intended = sent
        status, cold, init_ms, error, request_id = 0, None, None, None, None
        try:
            async with self._session.post(self.url, data=body, headers=headers) as resp:
                await resp.read()
                status = resp.status
                request_id = resp.headers.get(LOCAL_REQUEST_ID_HEADER)
                cold_raw = resp.headers.get(COLD_HEADER)
                if cold_raw is not None:
                    cold = cold_raw.strip().lower() == "true"
                init_raw = resp.headers.get(INIT_HEADER)
                if init_raw:
                    try:
                        init_ms = float(init_raw)
                    except ValueError:
                        init_ms = None
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = type(exc).__name__
        done = time.perf_counter()
        return Outcome(
            status=status,
            latency_ms=(done - intended) * 1000.0,
            service_ms=(done - sent) * 1000.0,
            send_lag_ms=max(0.0, (sent - intended) * 1000.0),
            done_s=done - start,
            cold=cold,
            init_ms=init_ms,
            error=error,
            request_id=request_id,
        )

    async def sequential(self, count: int) -> list[Outcome]:
        """``count`` requests one after the other on one kept-alive connection."""
        outcomes = []
        start = time.perf_counter()
        for _ in range(count):
            outcomes.append(await self.one(None, start))
        return outcomes

    async def open_loop(
        self,
        rate_rps: float,
        duration_s: float,
        arrivals: str = "constant",
        seed: int = 0,
        progress: ProgressFn | None = None,
    ) -> tuple[list[Outcome], dict]:
        """Run one open-loop step; returns the outcomes and generator metrics (CPU, send lag)."""
        return await self.open_loop_at(arrival_offsets(rate_rps, duration_s, arrivals, seed), duration_s, progress)

    async def open_loop_at(
        self, offsets: Sequence[float], duration_s: float | None = None, progress: ProgressFn | None = None,
    ) -> tuple[list[Outcome], dict]:
        """Send one request at each offset (seconds from the start), whatever the answers do.

        Returns the outcomes in arrival order (latency counted from each intended send) and the
        generator metrics. Replaying a trace's exact arrival times (the simulator's calibration)
        and a generated schedule (:meth:`open_loop`) share this one scheduling loop.
        """
        duration_s = float(offsets[-1]) if duration_s is None and len(offsets) else (duration_s or 0.0)
        meter = _Meter()
        held = _HeldCollector()
        outcomes: list[Outcome | None] = [None] * len(offsets)
        failures: list[BaseException] = []
        pending: set[asyncio.Task[Outcome]] = set()

        def finished(index: int, task: asyncio.Task[Outcome]) -> None:
            # The task is dropped once its outcome is kept: a finished Task holds far more than
            # the Outcome, and hundreds of thousands of them are what gc would walk.
            pending.discard(task)
            if task.cancelled():
                failures.append(asyncio.CancelledError())
            elif (exc := task.exception()) is not None:
                failures.append(exc)
            else:
                outcomes[index] = task.result()

        start = time.perf_counter() + 0.01
        # The same instant on CLOCK_MONOTONIC, which every process of the machine shares: a server's
        # own timestamps (the local Lambda's pool arrivals) become offsets of this schedule.
        self.started_monotonic_s = start - time.perf_counter() + time.monotonic()
        last_report = 0.0
        try:
            for index, offset in enumerate(offsets):
                intended = start + float(offset)
                delay = intended - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(self.one(intended, start))
                pending.add(task)
                task.add_done_callback(functools.partial(finished, index))
                held.tick()
                if progress is not None and offset - last_report >= 0.25:
                    last_report = offset
                    progress({"elapsed_s": offset, "duration_s": duration_s, "sent": index + 1})
            while pending:
                await asyncio.wait(set(pending))
        except BaseException:
            for task in pending:
                task.cancel()
            raise
        finally:
            held.release()
        if failures:
            raise failures[0]
        done = [o for o in outcomes if o is not None]
        return done, self._generator_metrics(meter, done)

    async def closed_loop(
        self, concurrency: int, duration_s: float, progress: ProgressFn | None = None
    ) -> tuple[list[Outcome], dict]:
        """``concurrency`` workers back to back for ``duration_s``; returns outcomes and generator metrics."""
        meter = _Meter()
        held = _HeldCollector()
        start = time.perf_counter()
        deadline = start + duration_s
        outcomes: list[Outcome] = []

        async def worker() -> None:
            while time.perf_counter() < deadline:
                outcomes.append(await self.one(None, start))

        async def reporter() -> None:
            while time.perf_counter() < deadline:
                await asyncio.sleep(0.25)
                held.tick()
                if progress is not None:
                    progress({"elapsed_s": time.perf_counter() - start, "duration_s": duration_s,
                              "sent": len(outcomes)})

        try:
            await asyncio.gather(reporter(), *(worker() for _ in range(concurrency)))
        finally:
            held.release()
        return outcomes, self._generator_metrics(meter, outcomes)

    @staticmethod
    def _generator_metrics(meter: _Meter, outcomes: list[Outcome]) -> dict:
        lags = sorted(o.send_lag_ms for o in outcomes)
        p99_lag = lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else 0.0
        cpu = meter.cpu_fraction()
        reasons = []
        if cpu >= CPU_BOTTLENECK_FRACTION:
            reasons.append(f"generator used {cpu:.0%} of a core")
        if p99_lag >= SEND_LAG_BOTTLENECK_MS:
            reasons.append(f"p99 send lag {p99_lag:.1f} ms (generator starved of CPU or overloaded)")
        return {
            "cpu_fraction": round(cpu, 3),
            "send_lag_p99_ms": round(p99_lag, 3),
            "send_lag_max_ms": round(lags[-1], 3) if lags else 0.0,
            "bottleneck": bool(reasons),
            "bottleneck_reason": "; ".join(reasons) or None,
        }


def status_counts(outcomes: list[Outcome]) -> dict[str, int]:
    """How many outcomes had each HTTP status, or each client error (``timeout``, ...)."""
    counts: dict[str, int] = {}
    for o in outcomes:
        key = str(o.status) if o.status else (o.error or "error")
        counts[key] = counts.get(key, 0) + 1
    return counts


def step_result(outcomes: list[Outcome], generator: dict, **labels: object) -> dict:
    """Aggregate one step's outcomes into the results.json step record (raw samples included)."""
    ok = [o for o in outcomes if o.ok]
    span_s = max((o.done_s for o in outcomes), default=0.0)
    errors = len(outcomes) - len(ok)
    return {
        **labels,
        "sent": len(outcomes),
        "ok": len(ok),
        "errors": errors,
        "throttled_429": sum(1 for o in outcomes if o.status == 429),
        "timeouts": sum(1 for o in outcomes if o.error == "timeout"),
        "error_rate": round(errors / len(outcomes), 4) if outcomes else 0.0,
        "status_counts": status_counts(outcomes),
        "achieved_rps": round(len(ok) / span_s, 2) if span_s > 0 else 0.0,
        "cold_starts": sum(1 for o in outcomes if o.cold),
        "latency": summarize([o.latency_ms for o in ok]),
        "service_time": summarize([o.service_ms for o in ok]),
        "generator": generator,
        "samples_ms": [round(o.latency_ms, 3) for o in ok],
    }
