"""How close the container comes to the HTTP limit of its own server, and to the edge it replaced.

The limit is a no-op WSGI app (:func:`noop_app`) under exactly the same server arrangement as
twinserve; against it, twinserve as its image runs it and the edge of ``--old-commit``. Each
server is measured with keep-alive and closing clients, in interleaved rounds with wrk, recording
the CPU left unused, the steal and each process role's CPU per answered request.

Details (the servers compared, the clients, what is recorded): docs/benchmark.md, 'HTTP limit (measure/http_limit.py)'.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOOP_APP = "twinbench.measure.http_limit:noop_app"
ENV_NOOP_ANSWER_BYTES = "NOOP_ANSWER_BYTES"
TARGET_THROUGHPUT_RATIO = 0.85  # twinserve (log + metrics on) / the no-op app, at least, each client kind
TARGET_P99_RATIO = 1.3  # twinserve's p99 / the no-op app's, at most
# twinserve / the replaced edge, at least: as fast with keep-alive clients, at most 10 % slower closing.
TARGET_VS_OLD = {"": 1.0, "/close": 0.90}
CLOSING = "/close"  # suffix of a closing-client step's server name
OLD_EDGE = "old-edge"
DEFAULT_OLD_COMMIT = "b9aa251"  # the last commit with the custom buffered worker
# Another commit to compare with; empty: no old-edge server (a shallow clone has no such commit).
ENV_OLD_COMMIT = "BENCH_LIMIT_OLD_COMMIT"
# History: 1 stock sync no-op vs buffered twinserve, closing clients only; 2 the same arrangement
# for both, keep-alive and closing clients, the replaced edge beside them; 3 adds each step's CPU per
# request by process role (cpu_us_per_request).
SCHEMA = "twinbench.http-limit/3"


class LimitBenchError(RuntimeError):
    """wrk missing or failing, a server that does not start, a model missing."""


# ------------------------------------------------------------------------------ the no-op app

_NOOP_BODY: bytes | None = None


def _noop_body() -> bytes:
    size = int(os.environ.get(ENV_NOOP_ANSWER_BYTES, "241"))
    head = b'{"predictions":[1],"padding":"'
    tail = b'"}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


def noop_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read the request body, answer a fixed JSON body: the cost of serving nothing."""
    global _NOOP_BODY
    if _NOOP_BODY is None:
        _NOOP_BODY = _noop_body()
    length = environ.get("CONTENT_LENGTH")
    if length:
        environ["wsgi.input"].read(int(length))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_NOOP_BODY)))])
    return [_NOOP_BODY]


# ------------------------------------------------------------------------------ the servers


@dataclass(frozen=True)
class Variant:
    name: str
    app: str
    env: dict[str, str]
    description: str
    workers: str = "image"  # "image": the image's WEB_CONCURRENCY; "fallback": gunicorn.conf.py's default
    old_edge: bool = False  # served from the --old-commit worktree


def variants(include_breakdown: bool, old_edge: bool = True) -> list[Variant]:
    noop = Variant("noop", NOOP_APP, {"TWINSERVE_ACCESS_LOG": "off", "TWINSERVE_METRICS": "off"},
                   "no-op WSGI app, the same server arrangement (nginx + sync workers), no log, no metrics")
    image = Variant("twinserve", "twinserve_flask.wsgi:app", {},
                    "as the image runs it: nginx + sync workers, JSON access log, Prometheus metrics")
    chosen = [noop, image]
    if old_edge:
        chosen.append(Variant(OLD_EDGE, "twinserve_flask.wsgi:app", {"REQUEST_READ_TIMEOUT_S": "10"},
                              "the replaced edge as its image ran it: buffered sync worker, log + metrics",
                              old_edge=True))
    if include_breakdown:
        chosen += [
            Variant("twinserve-no-log", "twinserve_flask.wsgi:app", {"TWINSERVE_ACCESS_LOG": "off"},
                    "metrics on, access log off"),
            Variant("twinserve-bare", "twinserve_flask.wsgi:app",
                    {"TWINSERVE_ACCESS_LOG": "off", "TWINSERVE_METRICS": "off"}, "access log and metrics off"),
            Variant("twinserve-no-nginx", "twinserve_flask.wsgi:app", {"TWINSERVE_PROXY": "off"},
                    "as the image runs it but gunicorn's gthread workers on the port themselves (no nginx)"),
            Variant("twinserve-gthread", "twinserve_flask.wsgi:app", {"GUNICORN_WORKER_CLASS": "gthread"},
                    "as the image runs it but gthread workers behind nginx, which keeps 16 connections to them alive"),
        ]
    return chosen


@dataclass
class LimitConfig:
    rounds: int = 9
    duration_s: float = 5.0
    warmup_s: float = 1.0
    concurrency: int = 32
    workers: int | None = None  # None: each server's own (see Variant.workers and image_workers)
    breakdown: bool = True
    # None: no old-edge server. Default: BENCH_LIMIT_OLD_COMMIT if set (empty: none), else DEFAULT_OLD_COMMIT.
    old_commit: str | None = field(default_factory=lambda: os.environ.get(ENV_OLD_COMMIT, DEFAULT_OLD_COMMIT) or None)
    client_kinds: tuple[str, ...] = ("", CLOSING)  # keep-alive, closing
    model_path: Path | None = None
    out: Path | None = None
    log: Callable[[str], None] = field(default=lambda text: print(text, file=sys.stderr, flush=True))


def image_workers(k8s_base: Path | None = None) -> tuple[int | None, str]:
    """The worker count the image runs, and where it came from; (None, why) when it cannot be read,
    and gunicorn.conf.py's own default then decides."""
    from twinserve_support.k8s.manifests import pod_settings

    settings = pod_settings(k8s_base)
    value = settings.env.get("WEB_CONCURRENCY", "")
    if not value.isdigit() or int(value) < 1:
        return None, "gunicorn.conf.py default (no WEB_CONCURRENCY in the k8s/base ConfigMap)"
    return int(value), "WEB_CONCURRENCY of the k8s/base ConfigMap (the image's ENV)"


def booted_workers(log_path: Path) -> int | None:
    """How many workers gunicorn booted, from its own log ("Booting worker with pid")."""
    try:
        return sum("Booting worker with pid" in line for line in log_path.read_text(errors="replace").splitlines())
    except OSError:
        return None


# Where a request's CPU goes: the server's processes by role, and wrk (µs of user+sys per request).
CPU_ROLES = ("workers", "nginx", "rest")


def cpu_by_role(root: Any) -> dict[str, float]:
    """user+sys CPU seconds of a server's live processes by role: gunicorn's workers, nginx (master
    and workers), the rest (gunicorn's master, the side listener). ``root`` is the gunicorn master's
    ``psutil.Process``; its own direct children that run Python are the workers (the side listener
    is the one running ``twinserve_flask.observability``)."""
    import psutil

    totals = dict.fromkeys(CPU_ROLES, 0.0)
    try:
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return totals
    for proc in tree:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            if proc.name().startswith("nginx"):
                role = "nginx"
            elif proc.pid != root.pid and proc.ppid() == root.pid and "twinserve_flask.observability" not in proc.cmdline():
                role = "workers"
            else:
                role = "rest"
            totals[role] += times.user + times.system
    return totals


def cpu_per_request(before: dict[str, float], after: dict[str, float], wrk_cpu_s: float,
                    requests: int) -> dict[str, float] | None:
    """µs of CPU per answered request by role, wrk and all together (None without requests)."""
    if requests <= 0:
        return None
    shares = {role: (after.get(role, 0.0) - before.get(role, 0.0)) for role in CPU_ROLES}
    shares["wrk"] = wrk_cpu_s
    shares["total"] = sum(shares.values())
    return {role: round(seconds / requests * 1e6, 1) for role, seconds in shares.items()}


def _answer_size(url: str, body: bytes) -> int:
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return len(response.read())


def closing_script(script: str) -> str:
    """The same wrk script with ``Connection: close`` on every request (wrk then reconnects each time)."""
    marker = 'wrk.headers["Content-Type"] = "application/json"\n'
    if marker not in script:
        raise LimitBenchError("the wrk script has no Content-Type line to add Connection: close after")
    return script.replace(marker, marker + 'wrk.headers["Connection"] = "close"\n')


@contextlib.contextmanager
def old_edge_tree(commit: str | None, log: Callable[[str], None]) -> Iterator[Path | None]:
    """A detached git worktree of ``commit`` (removed afterwards), or None when no commit is asked."""
    if commit is None:
        yield None
        return
    from twinserve_support.paths import REPO

    target = Path(tempfile.mkdtemp(prefix="bench-limit-old-edge-"))
    try:
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(target), commit],
                       capture_output=True, text=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        detail = getattr(exc, "stderr", "") or exc
        raise LimitBenchError(f"cannot check out the old edge at {commit} ({ENV_OLD_COMMIT}= skips it): "
                              f"{str(detail).strip()}") from None
    log(f"old edge: commit {commit} in {target}")
    try:
        yield target
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(target)],
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(target, ignore_errors=True)


def run_limit(config: LimitConfig) -> dict[str, Any]:
    """Run the interleaved rounds; returns the result document. Raises LimitBenchError."""
    with old_edge_tree(config.old_commit, config.log) as old_tree:
        return _run_limit(config, old_tree)


def _run_limit(config: LimitConfig, old_tree: Path | None) -> dict[str, Any]:
    import psutil
    from twinserve_support.paths import CONTAINER_SERVICE, DEFAULT_MODEL_DIR, RESULTS_DIR
    from twinserve_support.process.net import free_port

    from twinbench.measure.other_work import other_work, snapshot
    from twinbench.measure.wrk import WrkError, run_wrk, wrk_lua_script, wrk_version
    from twinbench.peers.servers import PeersError, ServerProcess, ServerSpec

    wrk = shutil.which("wrk")
    if wrk is None:
        raise LimitBenchError("wrk is not installed (`make bench-limit` installs the pinned Debian package)")
    model_path = Path(config.model_path or os.environ.get("MODEL_PATH") or DEFAULT_MODEL_DIR)
    metadata_file = model_path / "metadata.json"
    if not metadata_file.exists():
        raise LimitBenchError(f"no model at {model_path} (run `make model`)")
    metadata = json.loads(metadata_file.read_text())
    body = json.dumps({"features": metadata["example_row"]}).encode()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = (config.out.parent if config.out else RESULTS_DIR) / f"bench-limit-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    scripts = {"": work / "post.lua", CLOSING: work / "post-close.lua"}
    scripts[""].write_text(wrk_lua_script(body))
    scripts[CLOSING].write_text(closing_script(wrk_lua_script(body)))
    chosen = [v for v in variants(config.breakdown, old_edge=old_tree is not None)]
    shipped, shipped_source = image_workers()
    answer_bytes: int | None = None
    runs: list[dict[str, Any]] = []
    for round_index in range(config.rounds):
        # twinserve first until its answer size is known, so the no-op answers as many bytes from round 1 on.
        for variant in chosen if answer_bytes is not None else sorted(chosen, key=lambda v: v.name != "twinserve"):
            port = free_port()
            env = {**os.environ, "MODEL_PATH": str(model_path), "HOST": "127.0.0.1", "PORT": str(port),
                   "METRICS_PORT": str(free_port()), **variant.env}
            cwd = CONTAINER_SERVICE
            if variant.old_edge and old_tree is not None:
                cwd = old_tree / "services" / "predict-container"
                # That commit's core too: the old edge as that image ran it, whatever this tree has.
                env["PYTHONPATH"] = os.pathsep.join([str(old_tree / "shared"), str(cwd)])
            workers = config.workers or (shipped if variant.workers == "image" else None)
            if workers:
                env["WEB_CONCURRENCY"] = str(workers)
            else:  # gunicorn.conf.py's default
                env.pop("WEB_CONCURRENCY", None)
            if answer_bytes is not None:
                env[ENV_NOOP_ANSWER_BYTES] = str(answer_bytes)
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each server makes (and removes) its own
            spec = ServerSpec(name=variant.name, label=variant.description,
                              argv=[sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", variant.app],
                              cwd=cwd, env=env, port=port, predict_path="/predict",
                              ready_path=None, body=body)
            log_path = work / f"{variant.name}-round{round_index + 1}.log"
            try:
                with ServerProcess(spec, log_path) as server:
                    root = psutil.Process(server.process.pid)
                    if variant.name == "twinserve" and answer_bytes is None:
                        answer_bytes = _answer_size(f"{spec.base_url}/predict", body)
                    url = f"{spec.base_url}/predict"
                    for kind in config.client_kinds:
                        server.wait_quiet(max_wait_s=10.0)
                        run_wrk(wrk, url, scripts[kind], config.concurrency, config.warmup_s)
                        load_before = os.getloadavg()[0]
                        cpu_before, server_before, roles_before = snapshot(), server.cpu_s(), cpu_by_role(root)
                        step = run_wrk(wrk, url, scripts[kind], config.concurrency, config.duration_s)
                        cpu_after, server_after, roles_after = snapshot(), server.cpu_s(), cpu_by_role(root)
                        other = other_work(cpu_before, cpu_after,
                                           float(step["wrk_cpu_s"]) + server_after - server_before, os.cpu_count() or 1)
                        name = variant.name + kind
                        step.update(server=name, clients="closing" if kind else "keep-alive", round=round_index + 1,
                                    workers=booted_workers(log_path), load_avg_1m=round(load_before, 2),
                                    cpu_us_per_request=cpu_per_request(roles_before, roles_after, float(step["wrk_cpu_s"]),
                                                                       int(step.get("requests") or 0)),
                                    **other.as_dict())
                        runs.append(step)
                        config.log(f"round {round_index + 1}/{config.rounds} {name:<26} {step['rps']:>9.0f} req/s  "
                                   f"p99 {step['p99_ms']:.2f} ms  errors {sum(step['errors'].values())}  "
                                   f"other work {other.other_cpu_share:.0%}  steal {other.steal_share:.0%}")
            except (PeersError, WrkError) as exc:
                raise LimitBenchError(f"{variant.name}: {exc}") from None
    names = [v.name + kind for kind in config.client_kinds for v in chosen]
    document = {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                        "wrk": wrk_version(wrk), "git_commit": _git_commit(), "old_edge_commit": config.old_commit},
        "settings": {"rounds": config.rounds, "duration_s": config.duration_s, "warmup_s": config.warmup_s,
                     "concurrency": config.concurrency,
                     "workers": config.workers or {"image": shipped, "image_source": shipped_source},
                     "model": metadata.get("name"), "answer_bytes": answer_bytes,
                     "connections": "keep-alive clients, and closing clients (server names ending in /close)"},
        "variants": {v.name: v.description for v in chosen},
        "runs": runs,
        "summary": summarise(runs, names),
    }
    out = config.out or work / "limit.json"
    out.write_text(json.dumps(document, indent=2) + "\n")
    document["path"] = str(out)
    return document


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def summarise(runs: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """Medians over rounds per server, and ratios per round (then the median): every server to the
    no-op app of its client kind, twinserve to the replaced edge of its client kind."""
    by_server: dict[str, dict[str, Any]] = {}
    for name in names:
        mine = [r for r in runs if r["server"] == name]
        rps = [r["rps"] for r in mine]
        p99 = [r["p99_ms"] for r in mine]
        booted = sorted({r["workers"] for r in mine if r.get("workers")})
        split = [r["cpu_us_per_request"] for r in mine if r.get("cpu_us_per_request")]
        by_server[name] = {"n": len(mine), "workers": booted, "rps_median": statistics.median(rps), "rps_min": min(rps),
                           "rps_max": max(rps), "p99_ms_median": statistics.median(p99),
                           "errors": sum(sum(r["errors"].values()) for r in mine),
                           "cpu_us_per_request": {role: round(statistics.median(s[role] for s in split), 1)
                                                  for role in split[0]} if split else None}
    ratios: dict[str, Any] = {}
    vs_old: dict[str, Any] = {}
    for kind in ("", CLOSING):
        mine = [n for n in names if n.endswith(CLOSING) == bool(kind)]
        ratios.update(_ratios(runs, mine, "noop" + kind))
        vs_old.update(_ratios(runs, ["twinserve" + kind] if "twinserve" + kind in mine else [], OLD_EDGE + kind))
    checked = [ratios.get("twinserve" + kind, {}) for kind in ("", CLOSING) if "twinserve" + kind in names]
    met = bool(checked) and all(
        main.get("throughput_ratio") is not None and main["throughput_ratio"] >= TARGET_THROUGHPUT_RATIO
        and main.get("p99_ratio") is not None and main["p99_ratio"] <= TARGET_P99_RATIO for main in checked)
    old_met = None
    if vs_old:
        old_met = all(row.get("throughput_ratio") is not None
                      and row["throughput_ratio"] >= TARGET_VS_OLD[CLOSING if name.endswith(CLOSING) else ""]
                      for name, row in vs_old.items())
    return {"servers": by_server, "ratios": ratios, "ratios_vs_old_edge": vs_old,
            "target": {"throughput_ratio_min": TARGET_THROUGHPUT_RATIO, "p99_ratio_max": TARGET_P99_RATIO, "met": met,
                       "vs_old_edge_min": {("closing" if k else "keep-alive"): v for k, v in TARGET_VS_OLD.items()},
                       "vs_old_edge_met": old_met}}


def _ratios(runs: Sequence[dict[str, Any]], names: Sequence[str], base: str) -> dict[str, Any]:
    """Each server's throughput and p99 over ``base``'s in the same round, median over rounds
    (empty when ``base`` did not run)."""
    from twinbench.measure.stats import quantile_ci

    reference = {r["round"]: r for r in runs if r["server"] == base}
    ratios: dict[str, Any] = {}
    if not reference:
        return ratios
    for name in names:
        if name == base:
            continue
        pairs = [(r, reference[r["round"]]) for r in runs if r["server"] == name and r["round"] in reference]
        throughput = [a["rps"] / b["rps"] for a, b in pairs if b["rps"] > 0]
        p99 = [a["p99_ms"] / b["p99_ms"] for a, b in pairs if b["p99_ms"] > 0]
        # Six digits: enough that the verdict is not decided by rounding (0.6999 is not 0.70).
        # The medians' distribution-free 95% CIs (None where too few rounds: 9 give one, 5 do not).
        ratios[name] = {"throughput_ratio": round(statistics.median(throughput), 6) if throughput else None,
                        "throughput_ratio_range": [round(min(throughput), 6), round(max(throughput), 6)] if throughput else None,
                        "throughput_ratio_ci95": _rounded(quantile_ci(sorted(throughput), 0.5)) if throughput else None,
                        "p99_ratio": round(statistics.median(p99), 6) if p99 else None,
                        "p99_ratio_ci95": _rounded(quantile_ci(sorted(p99), 0.5)) if p99 else None}
    return ratios


def _rounded(bounds: list[float | None]) -> list[float | None]:
    return [None if b is None else round(b, 6) for b in bounds]


def _ci(bounds: list[float | None] | None) -> str:
    if not bounds or None in bounds:
        return "no 95% CI from so few rounds"
    return f"95% CI {bounds[0]:.3f}-{bounds[1]:.3f}"


def _fmt(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.3f}"


def render(document: dict[str, Any]) -> str:
    summary = document["summary"]
    settings = document["settings"]
    lines = [
        f"HTTP limit: {settings['rounds']} interleaved rounds x wrk c={settings['concurrency']} "
        f"{settings['duration_s']:g} s, {document['environment']['cpus']} CPUs, "
        f"model {settings['model']}, "
        f"answer {settings['answer_bytes']} B; names ending in /close: closing clients, the others keep-alive",
        "",
        "| server | workers | req/s (median, min-max) | p99 ms | vs no-op: throughput | p99 | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in summary["servers"].items():
        ratio = summary["ratios"].get(name, {})
        throughput = f"{ratio['throughput_ratio']:.2f}" if ratio.get("throughput_ratio") is not None else "1"
        p99 = f"{ratio['p99_ratio']:.2f}x" if ratio.get("p99_ratio") is not None else "1x"
        workers = "/".join(str(n) for n in row.get("workers") or []) or "?"
        lines.append(f"| {name} | {workers} | {row['rps_median']:,.0f} ({row['rps_min']:,.0f}-{row['rps_max']:,.0f}) | "
                     f"{row['p99_ms_median']:.2f} | {throughput} | {p99} | {row['errors']} |")
    lines += ["", "CPU per answered request, µs (user+sys, median over rounds; robust to other work on the machine):", "",
              "| server | gunicorn workers | nginx | master + side listener | wrk | total |", "|---|---|---|---|---|---|"]
    for name, row in summary["servers"].items():
        split = row.get("cpu_us_per_request")
        if split:
            lines.append(f"| {name} | {split['workers']:.0f} | {split['nginx']:.0f} | {split['rest']:.0f} | "
                         f"{split['wrk']:.0f} | {split['total']:.0f} |")
    target = summary["target"]
    main = summary["ratios"].get("twinserve", {})
    verdict = "met" if target["met"] else "NOT met"
    lines += ["", f"target (twinserve with access log + metrics): throughput >= {target['throughput_ratio_min']:.2f} "
              f"of the no-op app, p99 <= {target['p99_ratio_max']:.1f}x: {verdict} "
              f"(throughput {_fmt(main.get('throughput_ratio'))}, {_ci(main.get('throughput_ratio_ci95'))}; "
              f"p99 {_fmt(main.get('p99_ratio'))}x, {_ci(main.get('p99_ratio_ci95'))}; medians over "
              f"{settings['rounds']} rounds)"]
    closing = summary["ratios"].get("twinserve" + CLOSING)
    if closing:
        lines.append(f"with closing clients: throughput {_fmt(closing.get('throughput_ratio'))}, "
                     f"p99 {_fmt(closing.get('p99_ratio'))}x")
    for name, row in summary.get("ratios_vs_old_edge", {}).items():
        kind = "closing" if name.endswith(CLOSING) else "keep-alive"
        lines.append(f"twinserve vs the replaced edge, {kind} clients: throughput {_fmt(row.get('throughput_ratio'))} "
                     f"(at least {TARGET_VS_OLD[CLOSING if name.endswith(CLOSING) else '']:.2f}; "
                     f"{_ci(row.get('throughput_ratio_ci95'))}), p99 {_fmt(row.get('p99_ratio'))}x")
    from twinbench.measure.other_work import OtherWork

    disturbed = [r for r in document["runs"] if OtherWork(r.get("other_cpu_share", 0.0), r.get("steal_share", 0.0)).disturbed()]
    if disturbed:
        worst = max(disturbed, key=lambda r: r.get("other_cpu_share", 0.0) + r.get("steal_share", 0.0))
        lines.append(f"WARNING: other work or the hypervisor took CPU in {len(disturbed)} of {len(document['runs'])} "
                     f"steps (worst: {worst['server']} round {worst['round']}, other work "
                     f"{worst.get('other_cpu_share', 0.0):.0%}, steal {worst.get('steal_share', 0.0):.0%} of the CPUs): "
                     "those figures are less reliable; compare only within this run")
    lines.append(f"results: {document.get('path')}")
    return "\n".join(lines)
