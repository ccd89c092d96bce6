"""Traffic profiles: CSV and Azure readers, their edge cases, and the arrivals drawn from them."""

from __future__ import annotations

import numpy as np
import pytest
from twinbench.simulate.errors import ProfileError
from twinbench.simulate.profiles import (
    MAX_MINUTES,
    MinuteCounts,
    arrival_chunks,
    azure_functions,
    constant,
    from_azure_csv,
    from_minute_csv,
)


def test_bom_header_is_accepted(tmp_path):
    f = tmp_path / "t.csv"
    f.write_bytes("\ufefftimestamp,count\n2026-01-01T00:00:00Z,5\n2026-01-01T00:01:00Z,7\n".encode("utf-8"))
    assert from_minute_csv(f).counts.tolist() == [5, 7]


def test_skipped_minutes_keep_the_span_with_a_warning(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("timestamp,count\n2026-01-01T00:00:00Z,5\n2026-01-01T00:04:00Z,2\n")
    prof = from_minute_csv(f)
    assert prof.counts.tolist() == [5, 0, 0, 0, 2]
    assert any("3 of 5 minutes" in w for w in prof.warnings)
    assert from_minute_csv(f, span_minutes=8).counts.tolist() == [5, 0, 0, 0, 2, 0, 0, 0]


def test_rps_column_is_converted_to_counts(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("minute,rps\n0,2.5\n1,0\n")
    assert from_minute_csv(f).counts.tolist() == [150, 0]


@pytest.mark.parametrize(("body", "message"), [
    (b"minute,requests\n0,\xff\xfe\n", "not UTF-8"),
    (b"timestamp,count\n0001-01-01T00:00:00Z,1\n9999-12-31T00:00:00Z,1\n", "over the limit"),
    (b"minute,requests\n0,1e300\n", "requests in a minute"),
    (b"minute,requests\n0,nan\n", "finite"),
    (b"minute,requests\n0,-1\n", "finite"),
    (b"minute,requests\n0,1\n0,2\n", "twice"),
    (b"when,requests\n0,1\n", "header must name"),
    (b"timestamp,count\n2026-01-01T00:00:00,1\n", "no timezone"),
    (b"", "empty"),
])
def test_bad_csv_is_a_typed_error(tmp_path, body, message):
    f = tmp_path / "t.csv"
    f.write_bytes(body)
    with pytest.raises(ProfileError, match=message):
        from_minute_csv(f)


def _azure(tmp_path, rows):
    header = "HashOwner,HashApp,HashFunction,Trigger," + ",".join(str(i) for i in range(1, 6))
    f = tmp_path / "az.csv"
    f.write_text("\n".join([header] + [f"o,a,{h},http," + ",".join(map(str, c)) for h, c in rows]) + "\n")
    return f


def test_azure_pick_by_rank_and_hash(tmp_path):
    f = _azure(tmp_path, [("aaa111", [1, 0, 0, 0, 1]), ("bbb222", [5, 5, 5, 5, 5]), ("ccc333", [0, 9, 0, 0, 0])])
    assert [fn.hash_function for fn in azure_functions(f)] == ["bbb222", "ccc333", "aaa111"]
    assert from_azure_csv(f, "rank:1").counts.tolist() == [5] * 5
    assert from_azure_csv(f, "ccc").counts.tolist() == [0, 9, 0, 0, 0]
    with pytest.raises(ProfileError, match="no function"):
        from_azure_csv(f, "zzz")
    with pytest.raises(ProfileError, match="3 functions"):
        from_azure_csv(f, "rank:4")


def test_azure_bad_rows_are_typed_errors(tmp_path):
    with pytest.raises(ProfileError, match="whole numbers"):
        from_azure_csv(_azure(tmp_path, [("a", [1, 2, -3, 0, 0])]), "a")
    with pytest.raises(ProfileError, match="minute counts"):
        from_azure_csv(_azure(tmp_path, [("a", [1, 2])]), "a")


def test_arrivals_keep_each_minutes_count_and_stay_inside_it():
    counts = np.array([3, 0, 1000, 1, 0, 7])
    rng = np.random.default_rng(5)
    chunks = list(arrival_chunks(counts, rng, max_requests=500))
    t = np.concatenate([c[2] for c in chunks])
    assert t.size == counts.sum()
    assert np.all(np.diff(t) >= 0)
    assert np.bincount((t // 60).astype(int), minlength=6).tolist() == counts.tolist()
    assert [c[:2] for c in chunks][0] == (0, 2)  # whole minutes per chunk; the 1,000-request minute alone


def test_constant_is_poisson_and_rescaling_only_when_asked():
    prof = constant(10.0, 600, seed=1)
    assert prof.mean_rps == pytest.approx(10.0, rel=0.01)
    scaled = prof.scaled_to_mean(20.0)
    assert scaled.total == 20 * 600 * 60  # exactly the asked mean
    assert np.max(np.abs(scaled.counts - prof.counts * scaled.total / prof.total)) <= 1  # same shape
    with pytest.raises(ProfileError):
        prof.scaled_to_mean(float("nan"))


def test_limits():
    with pytest.raises(ProfileError):
        MinuteCounts("x", np.zeros(MAX_MINUTES + 1, dtype=np.int64))
    with pytest.raises(ProfileError):
        constant(float("inf"))


def test_simulator_and_cost_model_read_a_trace_the_same_way(tmp_path):
    """One reader: the same file gives the same minutes, counts and warnings to both rooms."""
    from twinbench.cost import traffic

    f = tmp_path / "t.csv"
    f.write_bytes("\ufeffminute,rps\n0,1.5\n3,0.25\n".encode())
    sim, priced = from_minute_csv(f, span_minutes=6), traffic.from_trace_csv(f, span_minutes=6)
    assert sim.counts.tolist() == (priced.rps_per_minute * 60).tolist() == [90, 0, 0, 15, 0, 0]
    assert sim.warnings == priced.warnings
    f.write_bytes(b"minute,requests\n0,1\n")
    with pytest.raises(ProfileError, match="span must be within"):
        from_minute_csv(f, span_minutes=0)
