"""Traffic traces: the one reader of trace files, shared by the cost model and the simulator.

A room of its own because a trace file is neither a cost nor a simulation fact: the CSV and
Azure formats, the BOM, skipped minutes and the limits are read here once, and each consumer
turns the per-minute counts into its own profile (``twinbench.cost.traffic.TrafficProfile``,
``twinbench.simulate.profiles.MinuteCounts``). It imports nothing else from twinbench, so it
sits below both.
"""

from twinbench.traffic.traces import (
    MAX_MINUTES,
    MAX_REQUESTS_PER_MINUTE,
    MAX_RPS,
    AzureFunction,
    MinuteTrace,
    TraceError,
    TraceLimitError,
    azure_functions,
    check_span_minutes,
    read_azure_csv,
    read_minute_csv,
)

__all__ = [
    "MAX_MINUTES",
    "MAX_REQUESTS_PER_MINUTE",
    "MAX_RPS",
    "AzureFunction",
    "MinuteTrace",
    "TraceError",
    "TraceLimitError",
    "azure_functions",
    "check_span_minutes",
    "read_azure_csv",
    "read_minute_csv",
]
