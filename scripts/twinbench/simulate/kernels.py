"""The per-request inner loops of both platforms, compiled with numba when it is installed.

Everything per request lives here and nothing else: plain arrays in, plain arrays out, so
the same code runs compiled (numba) or as ordinary Python (the fallback, about a hundred times
slower: fine for tests and small traces; speeds in docs/measurements.md).
State that must survive from one chunk of arrivals to the next is kept in arrays owned by
the callers (``lambda_sim.LambdaState``, ``kube_sim``), so a chunk boundary changes nothing.

Times are seconds from the start of the span (float64); service, init and latency are ms.
"""

from __future__ import annotations

import math

import numpy as np

try:  # numba is optional: the simulation is identical without it, only slower
    from numba import njit as _njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is absent
    HAVE_NUMBA = False


def jit(func):  # type: ignore[no-untyped-def]
    """numba.njit(cache=True) when available, else the function itself."""
    return _njit(cache=True, nogil=True)(func) if HAVE_NUMBA else func


# Lambda integer state slots (LambdaState.ints)
L_HEAP_N, L_IDLE_LO, L_IDLE_CNT, L_DEAD_N, L_NEXT_ID, L_ALIVE, L_PC_FREE, L_MINUTE = range(8)
L_COLD, L_THROTTLED, L_BILLED_MS, L_PC_BILLED_MS, L_INIT_I, L_REQUESTS, L_ROUTE_THROTTLED = range(8, 15)
L_N_INTS = 15
# Lambda float state slots (LambdaState.floats); LF_ROUTE_* is API Gateway's route throttling bucket.
LF_TOKENS, LF_LAST_REFILL, LF_ENV_SECONDS, LF_ROUTE_TOKENS, LF_ROUTE_LAST = range(5)
L_N_FLOATS = 5


@jit
def _heap_push(ht, he, n, t, e):  # type: ignore[no-untyped-def]
    i = n
    ht[i] = t
    he[i] = e
    while i > 0:
        p = (i - 1) >> 1
        if ht[p] <= ht[i]:
            break
        ht[p], ht[i] = ht[i], ht[p]
        he[p], he[i] = he[i], he[p]
        i = p
    return n + 1


@jit
def _heap_pop(ht, he, n):  # type: ignore[no-untyped-def]
    """Remove the root; returns the new size (the root's values must be read before)."""
    n -= 1
    ht[0] = ht[n]
    he[0] = he[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and ht[c + 1] < ht[c]:
            c += 1
        if ht[i] <= ht[c]:
            break
        ht[c], ht[i] = ht[i], ht[c]
        he[c], he[i] = he[i], he[c]
        i = c
    return n


@jit
def _lambda_advance(now, ints, floats, ht, he, idle, free_at, created_at, dead, keep_alive_s):  # type: ignore[no-untyped-def]
    """Finish invocations ending by ``now``; reap environments idle longer than the keep-alive.

    Finished environments go on top of the idle stack in order of their end time, so the
    stack is sorted by idle-since: the top is the most recently used (Lambda reuses it
    first), the bottom the longest idle (the first to be reaped).
    """
    cap = idle.size
    while ints[L_HEAP_N] > 0 and ht[0] <= now:
        end = ht[0]
        e = he[0]
        ints[L_HEAP_N] = _heap_pop(ht, he, ints[L_HEAP_N])
        if e < 0:
            ints[L_PC_FREE] += 1
        else:
            free_at[e] = end
            idle[(ints[L_IDLE_LO] + ints[L_IDLE_CNT]) % cap] = e
            ints[L_IDLE_CNT] += 1
    while ints[L_IDLE_CNT] > 0:
        e = idle[ints[L_IDLE_LO]]
        if free_at[e] + keep_alive_s >= now:
            break
        floats[LF_ENV_SECONDS] += free_at[e] + keep_alive_s - created_at[e]
        ints[L_IDLE_LO] = (ints[L_IDLE_LO] + 1) % cap
        ints[L_IDLE_CNT] -= 1
        ints[L_ALIVE] -= 1
        dead[ints[L_DEAD_N]] = e
        ints[L_DEAD_N] += 1


@jit
def lambda_chunk(t, dur_ms, init_pool, ints, floats, ht, he, idle, free_at, created_at, dead,  # type: ignore[no-untyped-def]
                 keep_alive_s, limit, pc_pm, bucket_cap, refill_per_s, route_rate, route_burst,
                 latency_ms, cold_flag, env_max, cold_pm, throttled_pm, busy_max):
    """Serve arrivals ``t`` (sorted) on Lambda; fills latency_ms (-1 = throttled) and cold_flag.

    Per request: first API Gateway's route throttling (a bucket of ``route_burst`` tokens refilled
    at ``route_rate``/s; ``route_rate`` <= 0 = off): no token, 429 and Lambda never sees it. Then
    provisioned environments first (never cold); else the most recently used idle environment;
    else a new one if the concurrency limit and the scaling token bucket allow (cold: pays INIT,
    billed ceil(init + duration) ms); else 429. ``pc_pm``: provisioned environments per minute (a
    schedule changes them at minute boundaries; the free count may go negative while environments
    taken away are still busy, and they leave as they finish).
    """
    n_minutes = env_max.size
    pool_n = init_pool.size
    for i in range(t.size):
        now = t[i]
        minute = int(now // 60.0)
        if minute >= n_minutes:
            minute = n_minutes - 1
        # Minute boundaries crossed since the last arrival: reap at each, record who is alive.
        while ints[L_MINUTE] < minute:
            ints[L_MINUTE] += 1
            boundary = ints[L_MINUTE] * 60.0
            _lambda_advance(boundary, ints, floats, ht, he, idle, free_at, created_at, dead, keep_alive_s)
            ints[L_PC_FREE] += pc_pm[ints[L_MINUTE]] - pc_pm[ints[L_MINUTE] - 1]
            env_max[ints[L_MINUTE]] = max(env_max[ints[L_MINUTE]], ints[L_ALIVE] + pc_pm[ints[L_MINUTE]])
        _lambda_advance(now, ints, floats, ht, he, idle, free_at, created_at, dead, keep_alive_s)
        ints[L_REQUESTS] += 1
        d = dur_ms[i]
        busy = ints[L_HEAP_N]
        route_ok = True
        if route_rate > 0.0:
            rt = floats[LF_ROUTE_TOKENS] + (now - floats[LF_ROUTE_LAST]) * route_rate
            if rt > route_burst:
                rt = route_burst
            floats[LF_ROUTE_LAST] = now
            if rt < 1.0:
                route_ok = False
                floats[LF_ROUTE_TOKENS] = rt
            else:
                floats[LF_ROUTE_TOKENS] = rt - 1.0
        if not route_ok:
            latency_ms[i] = -1.0
            cold_flag[i] = 0
            ints[L_THROTTLED] += 1
            ints[L_ROUTE_THROTTLED] += 1
            throttled_pm[minute] += 1
        elif ints[L_PC_FREE] > 0:
            ints[L_PC_FREE] -= 1
            ints[L_HEAP_N] = _heap_push(ht, he, busy, now + d / 1000.0, -1)
            ints[L_PC_BILLED_MS] += math.ceil(d)
            latency_ms[i] = d
            cold_flag[i] = 0
        elif busy >= limit:
            latency_ms[i] = -1.0
            cold_flag[i] = 0
            ints[L_THROTTLED] += 1
            throttled_pm[minute] += 1
        elif ints[L_IDLE_CNT] > 0:
            top = (ints[L_IDLE_LO] + ints[L_IDLE_CNT] - 1) % idle.size
            e = idle[top]
            ints[L_IDLE_CNT] -= 1
            ints[L_HEAP_N] = _heap_push(ht, he, busy, now + d / 1000.0, e)
            ints[L_BILLED_MS] += math.ceil(d)
            latency_ms[i] = d
            cold_flag[i] = 0
        else:
            tokens = floats[LF_TOKENS] + (now - floats[LF_LAST_REFILL]) * refill_per_s
            if tokens > bucket_cap:
                tokens = bucket_cap
            floats[LF_LAST_REFILL] = now
            if tokens < 1.0:
                floats[LF_TOKENS] = tokens
                latency_ms[i] = -1.0
                cold_flag[i] = 0
                ints[L_THROTTLED] += 1
                throttled_pm[minute] += 1
            else:
                floats[LF_TOKENS] = tokens - 1.0
                if ints[L_DEAD_N] > 0:
                    ints[L_DEAD_N] -= 1
                    e = dead[ints[L_DEAD_N]]
                else:
                    e = ints[L_NEXT_ID]
                    ints[L_NEXT_ID] += 1
                created_at[e] = now
                ints[L_ALIVE] += 1
                init = init_pool[ints[L_INIT_I] % pool_n]
                ints[L_INIT_I] += 1
                ints[L_HEAP_N] = _heap_push(ht, he, busy, now + (init + d) / 1000.0, e)
                ints[L_BILLED_MS] += math.ceil(init + d)
                latency_ms[i] = init + d
                cold_flag[i] = 1
                ints[L_COLD] += 1
                cold_pm[minute] += 1
        if ints[L_ALIVE] + pc_pm[minute] > env_max[minute]:
            env_max[minute] = ints[L_ALIVE] + pc_pm[minute]
        if ints[L_HEAP_N] > busy_max[minute]:
            busy_max[minute] = ints[L_HEAP_N]


# Kubernetes per-simulation integer state (kube_sim): round-robin pointer, random state.
K_RR, K_RNG = range(2)


@jit
def kube_segment(t, svc_ms, ready_at, gone_at, worker_free, ring, ring_head, ring_cnt, kints,  # type: ignore[no-untyped-def]
                 queue_limit, random_balancing, latency_ms):
    """Serve arrivals ``t`` on the pods ready at their arrival; returns requests accepted.

    Load balancing: round-robin over ready pods (the ALB's default algorithm) or uniformly
    random (kube-proxy's iptables mode). Each pod is a FIFO queue in front of ``workers``
    servers: a request starts on the earliest-free worker; if ``queue_limit`` requests are
    already waiting at that pod it is rejected (latency -1, a 503). No ready pod: rejected.
    """
    n_pods = ready_at.size
    n_workers = worker_free.shape[1]
    accepted = 0
    for i in range(t.size):
        now = t[i]
        chosen = -1
        if random_balancing:
            # A 31-bit LCG: deterministic, and identical compiled or not (no overflow in int64).
            x = (1103515245 * kints[K_RNG] + 12345) % 2147483648
            kints[K_RNG] = x
            start = x % n_pods
        else:
            start = kints[K_RR] + 1
        for k in range(n_pods):
            slot = (start + k) % n_pods
            if ready_at[slot] <= now and now < gone_at[slot]:
                chosen = slot
                break
        if chosen < 0:
            latency_ms[i] = -1.0
            continue
        kints[K_RR] = chosen
        # Drop from the waiting ring every request that has started by now.
        while ring_cnt[chosen] > 0 and ring[chosen, ring_head[chosen]] <= now:
            ring_head[chosen] = (ring_head[chosen] + 1) % ring.shape[1]
            ring_cnt[chosen] -= 1
        w = 0
        best = worker_free[chosen, 0]
        for j in range(1, n_workers):
            if worker_free[chosen, j] < best:
                best = worker_free[chosen, j]
                w = j
        begin = now if best <= now else best
        if begin > now:
            if ring_cnt[chosen] >= queue_limit:
                latency_ms[i] = -1.0
                continue
            if ring.shape[1] > 0:
                ring[chosen, (ring_head[chosen] + ring_cnt[chosen]) % ring.shape[1]] = begin
                ring_cnt[chosen] += 1
        d = svc_ms[i]
        worker_free[chosen, w] = begin + d / 1000.0
        latency_ms[i] = (begin - now) * 1000.0 + d
        accepted += 1
    return accepted


@jit
def minute_offsets(t, first_minute, n):  # type: ignore[no-untyped-def]
    """Start index of each of ``n`` minutes (from ``first_minute``) in sorted times ``t``, length n + 1."""
    out = np.zeros(n + 1, dtype=np.int64)
    j = 0
    for m in range(n):
        limit = (first_minute + m + 1) * 60.0
        while j < t.size and t[j] < limit:
            j += 1
        out[m + 1] = j
    out[n] = t.size
    return out
