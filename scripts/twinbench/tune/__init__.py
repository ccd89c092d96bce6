"""Memory power-tuning of the Lambda function, as AWS Lambda Power Tuning does it.

For each memory size: cold init (forced cold starts, the REPORT line's Init Duration) and warm
billed duration (REPORT Billed Duration, rounded up to 1 ms), the cost per million invocations
and per month at a chosen rate, and the *cost*, *speed* and *balanced* picks.

* :mod:`.strategies` — the three picks and the trimmed mean, exactly Power Tuning's rules (pure).
* :mod:`.pricing` — cost per invocation / million / month from the one price table.
* :mod:`.cpu_share` — AWS's CPU-per-memory rule and what this machine can reproduce of it.
* :mod:`.local` — the local Lambda emulator under each size's CPU quota.
* :mod:`.remote` — a deployed function: set the memory, invoke with ``LogType=Tail``, restore.
* :mod:`.document`, :mod:`.report`, :mod:`.plots` — the ``twinbench.tune`` document, its table
  and report, and the duration/cost-vs-memory figure.
"""
