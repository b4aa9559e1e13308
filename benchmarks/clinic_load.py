"""Load benchmark of the web clinic: 20 simulated users on 10,000 patients and 500,000 scores.

    python benchmarks/clinic_load.py                  # both backends, 5 minutes each (the reported figures)
    python benchmarks/clinic_load.py --quick          # both backends, 30 s each
    python benchmarks/clinic_load.py --backend sqlite --duration 60

Loopback only (127.0.0.1), bounded in count and time (``--duration``, at most 15 minutes; at most
``--max-requests`` in all), stops by itself. For PostgreSQL it starts its own throwaway cluster
(Debian's ``initdb``/``pg_ctl`` into a temporary folder, as the ``postgres`` user when run as root) and
stops it at the end.

* Data: ``--patients`` (10,000) with ``--scores`` (500,000) PHQ-9s item by item (50 each), 10 sessions
  each, open alerts on 5% of them; written with bulk inserts (the population step is not timed).
* Forecasts: seeded by a **marked fast path**: one real forecast (``ketasim.clinic.forecasting``) of a
  template record, copied to every patient with ``fast_path = true`` (the page says so); the worker is
  off during the run, so no forecast is computed on the machine while it is measured.
* Server: one process (``ketasim clinic serve --no-worker``: uvicorn, one event loop, handlers in its
  thread pool of 40 threads), access log on.
* Users: ``--users`` (20) closed-loop threads, each logged in with its own page session, alternating
  the overview (50 patients a page sorted by open alerts; a random page, every fourth request a
  search by identifier prefix) and a random patient's page (50 scores, its sessions, alerts, chart
  and forecast), with ``--think`` (1 s) between a response and the next request.
* Reported: per page type the count, errors, p50/p95/p99/max latency; the load generator's and the
  server's CPU use as a share of the 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ketasim.clinic.demo import phq9_items  # noqa: E402
from ketasim.clinic.forecasting import PatientRecord, compute_forecast, model_version  # noqa: E402
from ketasim.clinic.models import (  # noqa: E402
    Alert,
    Patient,
    Score,
    StoredForecast,
    TreatmentSession,
)
from ketasim.clinic.security import create_user  # noqa: E402
from ketasim.clinic.server import init_db  # noqa: E402
from ketasim.clinic.settings import sqlite_url  # noqa: E402

EMAIL, PASSWORD = "load@bench.clinic", "benchmark password"
MAX_DURATION = 900.0
SESSIONS_PER_PATIENT = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway PostgreSQL cluster on loopback in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins:
            raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin, self.dir, self.port = bins[-1], folder / "pg", free_port()
        self.dir.mkdir()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(f"'{self.bin}/initdb' -D '{self.dir}/data' -U postgres -A trust >/dev/null")
        self._run(f"'{self.bin}/pg_ctl' -D '{self.dir}/data' -l '{self.dir}/log' -w -o "
                  f"\"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}\" start >/dev/null")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: str) -> None:
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", cmd] if self.as_postgres else ["sh", "-c", cmd]
        subprocess.run(argv, check=True)

    def stop(self) -> None:
        self._run(f"'{self.bin}/pg_ctl' -D '{self.dir}/data' -m fast stop >/dev/null")


def template_forecast() -> dict:
    """One real forecast of a template record (six infusions, eight PHQ-9s): the fast-path seed."""
    from zoneinfo import ZoneInfo

    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    p = Patient(id=0, external_id="T", birth_year=1980, sex="female", weight_kg=70.0, record_version=1)
    rec = PatientRecord(patient=p)
    for d in (0, 2, 4, 7, 9, 11):
        rec.sessions.append(TreatmentSession(given_at=t0 + dt.timedelta(days=d, hours=1), route="iv", drug="racemic",
                                             dose_mg=35.0, dose_mg_per_kg=0.5, weight_kg=70.0,
                                             infusion_minutes=40.0, off_label=False))
    for d, total in ((0, 19), (1, 12), (4, 9), (8, 7), (12, 5), (19, 6), (33, 7), (47, 9)):
        rec.scores.append(Score(taken_at=t0 + dt.timedelta(days=d), instrument="PHQ-9", items=phq9_items(total),
                                total=total))
    out = compute_forecast(rec, ZoneInfo("UTC"), dt.date.today())
    assert out.status == "ok", out.message
    return out.result


def populate(url: str, n_patients: int, n_scores: int, seed: int = 1) -> None:
    """Bulk-insert the clinic (patients, sessions, scores, alerts, fast-path forecasts)."""
    rng = np.random.default_rng(seed)
    db = init_db(url)
    create_user(db, EMAIL, PASSWORD, "clinician", name="Load test")
    per = max(1, n_scores // n_patients)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    result, version = template_forecast(), model_version()
    chunk = 500
    for start in range(0, n_patients, chunk):
        ids = range(start + 1, min(n_patients, start + chunk) + 1)
        patients, sessions, scores, alerts, forecasts = [], [], [], [], []
        for pid in ids:
            first = now - dt.timedelta(days=7 * per + int(rng.integers(0, 30)))
            totals = np.clip(np.round(15 - 8 * (1 - np.exp(-np.arange(per) / 3.0)) + rng.normal(0, 2.5, per)), 0, 27)
            n_alerts = int(rng.random() < 0.05) * int(rng.integers(1, 3))
            last_session = first + dt.timedelta(days=3 * (SESSIONS_PER_PATIENT - 1), hours=1)
            patients.append({"id": pid, "external_id": f"P{pid:06d}", "birth_year": int(rng.integers(1940, 2000)),
                             "sex": ("female", "male")[pid % 2], "weight_kg": float(rng.integers(50, 110)),
                             "synthetic": True, "created_at": first, "record_version": 1 + per + SESSIONS_PER_PATIENT,
                             "last_phq9": int(totals[-1]), "last_phq9_at": first + dt.timedelta(days=7 * (per - 1)),
                             "previous_phq9": int(totals[-2]) if per > 1 else None, "last_session_at": last_session,
                             "open_alerts": n_alerts, "next_session_due": result["next_session_date"] and
                             dt.date.fromisoformat(result["next_session_date"])})
            for k in range(SESSIONS_PER_PATIENT):
                sessions.append({"patient_id": pid, "given_at": first + dt.timedelta(days=3 * k, hours=1),
                                 "route": "iv", "drug": "racemic", "dose_mg": 35.0, "dose_mg_per_kg": 0.5,
                                 "weight_kg": 70.0, "infusion_minutes": 40.0, "off_label": False, "status": "current",
                                 "recorded_at": now})
            for k, total in enumerate(totals):
                scores.append({"patient_id": pid, "taken_at": first + dt.timedelta(days=7 * k),
                               "instrument": "PHQ-9", "items": phq9_items(int(total)), "total": int(total),
                               "source": "demo", "status": "current", "recorded_at": now})
            for _ in range(n_alerts):
                alerts.append({"patient_id": pid, "kind": "rise", "message": "PHQ-9 rise (benchmark data).",
                               "raised_at": now})
            forecasts.append({"patient_id": pid, "record_version": 1 + per + SESSIONS_PER_PATIENT,
                              "model_version": version, "computed_at": now, "status": "ok", "result": result,
                              "fast_path": True})
        with db.write() as s:
            for model, rows in ((Patient, patients), (TreatmentSession, sessions), (Score, scores),
                                (Alert, alerts), (StoredForecast, forecasts)):
                if rows:
                    s.execute(model.__table__.insert(), rows)
        print(f"\r  populated {ids[-1]:,} / {n_patients:,} patients", end="", flush=True)
    print()
    if not db.is_sqlite:
        from sqlalchemy import text

        with db.engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('patients', 'id'), "
                              "(SELECT max(id) FROM patients))"))
            conn.execute(text("ANALYZE"))
    db.dispose()


def start_server(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", "from ketasim.interfaces.cli import main; main()", "clinic",
                             "serve", "--db", url, "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def login(client: httpx.Client) -> None:
    token = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"login_csrf": token, "email": EMAIL, "password": PASSWORD, "next": "/"})
    assert r.status_code == 303, r.text


def run_load(base: str, n_patients: int, users: int, duration: float, think: float, max_requests: int,
             server_pid: int) -> dict:
    results: dict[str, list[float]] = {"overview": [], "patient": []}
    errors = {"overview": 0, "patient": 0}
    lock, stop = threading.Lock(), threading.Event()
    budget = [max_requests]
    clients = [httpx.Client(base_url=base, timeout=30, follow_redirects=False) for _ in range(users)]
    for c in clients:
        login(c)
    pages = max(1, n_patients // 50)

    def user(k: int) -> None:
        rng = random.Random(k)
        c, n = clients[k], 0
        time.sleep(rng.random() * think)  # users do not start in lockstep
        while not stop.is_set():
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            n += 1
            if n % 2:
                kind = "overview"
                params = {"q": f"P{rng.randrange(0, n_patients // 1000 + 1):03d}"} if n % 4 == 1 else {
                    "page": rng.randrange(1, pages + 1)}
                path = "/"
            else:
                kind, path, params = "patient", f"/patients/{rng.randrange(1, n_patients + 1)}", {}
            t = time.perf_counter()
            try:
                r = c.get(path, params=params)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - t
            with lock:
                if ok:
                    results[kind].append(elapsed)
                else:
                    errors[kind] += 1
            stop.wait(think)

    threads = [threading.Thread(target=user, args=(k,)) for k in range(users)]
    t_wall, t_cpu, s_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
    for t in threads:
        t.start()
    end = time.monotonic() + duration
    while time.monotonic() < end and any(t.is_alive() for t in threads):
        time.sleep(min(5.0, max(0.0, end - time.monotonic())))
        done = sum(len(v) for v in results.values())
        print(f"\r  {time.monotonic() - end + duration:5.0f} s: {done:,} requests", end="", flush=True)
    stop.set()
    for t in threads:
        t.join(60)
    wall = time.perf_counter() - t_wall
    gen_cpu, srv_cpu = time.process_time() - t_cpu, cpu_seconds(server_pid) - s_cpu
    print()
    for c in clients:
        c.close()
    cores = os.cpu_count() or 1
    out: dict = {"wall_s": round(wall, 1), "cores": cores,
                 "load_generator_cpu_share": round(gen_cpu / (wall * cores), 3),
                 "server_cpu_share": round(srv_cpu / (wall * cores), 3)}
    for kind, lat in results.items():
        a = np.array(lat) * 1000.0
        out[kind] = {"requests": int(a.size), "errors": errors[kind],
                     **({f"p{q}_ms": round(float(np.percentile(a, q)), 1) for q in (50, 95, 99)} if a.size else {}),
                     "max_ms": round(float(a.max()), 1) if a.size else None}
    out["requests_per_s"] = round(sum(len(v) for v in results.values()) / wall, 1)
    return out


def bench(backend: str, args: argparse.Namespace, folder: Path) -> dict:
    pg = Postgres(folder) if backend == "postgres" else None
    url = pg.url if pg else sqlite_url(folder / "clinic.db")
    try:
        t = time.perf_counter()
        print(f"{backend}: populating {args.patients:,} patients and {args.scores:,} scores")
        populate(url, args.patients, args.scores)
        populate_s = time.perf_counter() - t
        port = free_port()
        server = start_server(url, port, folder / f"server-{backend}.log")
        try:
            print(f"{backend}: {args.users} users for {args.duration:.0f} s")
            out = run_load(f"http://127.0.0.1:{port}", args.patients, args.users, args.duration, args.think,
                           args.max_requests, server.pid)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        return {"backend": backend, "populate_s": round(populate_s, 1),
                "machine_load_average_1_min_at_start": round(os.getloadavg()[0], 2), **out}
    finally:
        if pg:
            pg.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--scores", type=int, default=500_000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of load per backend (at most 900)")
    ap.add_argument("--think", type=float, default=1.0, help="seconds between a response and the next request")
    ap.add_argument("--max-requests", type=int, default=20_000, help="upper bound on requests per backend")
    ap.add_argument("--quick", action="store_true", help="30 s per backend")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "clinic_load.json")
    args = ap.parse_args()
    if args.quick:
        args.duration = 30.0
    if not (0 < args.duration <= MAX_DURATION and 1 <= args.users <= 100 and 100 <= args.patients <= 100_000
            and args.patients <= args.scores <= 5_000_000):
        raise SystemExit("out of bounds: duration 0-900 s, users 1-100, patients 100-100,000, scores up to 5,000,000")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    runs = []
    with tempfile.TemporaryDirectory(prefix="ketasim-clinic-load-") as tmp:
        os.chmod(tmp, 0o755)  # the postgres user must reach its cluster folder inside
        for b in backends:
            (Path(tmp) / b).mkdir()
            runs.append(bench(b, args, Path(tmp) / b))
    report = {"benchmark": "clinic_load", "date": dt.date.today().isoformat(),
              "machine_load_average_1_5_15_min_at_end": [round(x, 2) for x in os.getloadavg()],
              "patients": args.patients,
              "scores": args.scores, "users": args.users, "think_s": args.think, "duration_s": args.duration,
              "server": "one process (uvicorn, thread pool of 40), forecast worker off",
              "forecasts": "seeded by the marked fast path (one real forecast copied, fast_path = true)",
              "runs": runs}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'backend':10} {'page':9} {'requests':>9} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for r in runs:
        for kind in ("overview", "patient"):
            k = r[kind]
            print(f"{r['backend']:10} {kind:9} {k['requests']:9,} {k['errors']:6} {k.get('p50_ms', '-'):>7} "
                  f"{k.get('p95_ms', '-'):>7} {k.get('p99_ms', '-'):>7}")
        print(f"{'':10} load generator {r['load_generator_cpu_share']:.0%} of the machine, server "
              f"{r['server_cpu_share']:.0%}; {r['requests_per_s']} requests/s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
