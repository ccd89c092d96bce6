"""``twinbench calibrate``: the simulator against reality, one bursty arrival schedule through the local stack and the model.

schedule (the seeded bursty schedule) -> measure (replayed open-loop on the local Lambda and on
gunicorn under the pod limits) -> simulated (the model on the same arrivals, inputs from the same
replay) -> checks (each figure within a stated tolerance) -> report (document, table, verdict);
the CLI is ``twinbench.cli.calibrate``. Inputs are calibrated, so what is checked is the mechanics: keep-alive
reaping, most-recently-used reuse, the concurrency cap during INIT, per-pod queueing.
"""

from twinbench.simulate.calibrate.checks import NOT_CHECKABLE, TOLERANCES, Check, Tolerance, compare
from twinbench.simulate.calibrate.measure import lone_requests, measure
from twinbench.simulate.calibrate.report import CalibrationReport, calibrate
from twinbench.simulate.calibrate.runs import Measurement, TargetRun
from twinbench.simulate.calibrate.schedule import FULL, SHORT, CalibrationError, Schedule, bursty_schedule
from twinbench.simulate.calibrate.simulated import (
    Simulated,
    client_latencies,
    lambda_arrivals,
    replay_lambda_at,
    segment_durations,
    simulate_measurement,
)

__all__ = ["CalibrationError", "CalibrationReport", "Check", "FULL", "Measurement", "NOT_CHECKABLE", "SHORT",
           "Schedule", "Simulated", "TOLERANCES", "TargetRun", "Tolerance", "bursty_schedule", "calibrate",
           "client_latencies", "compare", "lambda_arrivals", "lone_requests", "measure",
           "replay_lambda_at", "segment_durations", "simulate_measurement"]
