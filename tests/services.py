"""Real servers for tests: PostgreSQL (Debian's package) and ``mlflow server``.

Each runs as a child process on 127.0.0.1 and a free port, in a temporary directory, and is
stopped by its own process id (its process group for mlflow, which starts a uvicorn child).
A missing server binary skips the test with the reason, unless LST_REQUIRE_SERVICES=1 (set by
.ci/run after installing them), where it fails instead.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest


def missing(what: str) -> None:
    if os.environ.get("LST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"LST_REQUIRE_SERVICES=1 but {what}")
    pytest.skip(f"{what} (.ci/run installs it; LST_REQUIRE_SERVICES=1 makes this a failure)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, proc: subprocess.Popen, what: str, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within {timeout_s} s:\n{log.read_text()[-3000:]}")


def postgres_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name))
    return Path(dirs[-1]) if dirs else None


@contextmanager
def postgres_server():
    """Yields the SQLAlchemy URL prefix ``postgresql+psycopg2://lst@127.0.0.1:<port>``."""
    bindir = postgres_bindir()
    if bindir is None or not (bindir / "postgres").is_file():
        missing("PostgreSQL is not installed (no pg_ctl / postgres binary)")
    # postgres refuses to run as root: run it as Debian's 'postgres' user then
    user = "postgres" if os.geteuid() == 0 else None
    data = Path(tempfile.mkdtemp(prefix="lst-pg-"))
    if user:
        shutil.chown(data, user)
    log = data.parent / f"{data.name}.log"
    port = free_port()
    try:
        subprocess.run([str(bindir / "initdb"), "-D", str(data / "db"), "-U", "lst", "-A", "trust", "--no-sync"],
                       check=True, capture_output=True, user=user)
        with open(log, "w") as out:
            proc = subprocess.Popen([str(bindir / "postgres"), "-D", str(data / "db"), "-p", str(port),
                                     "-k", str(data), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                                    stdout=out, stderr=subprocess.STDOUT, user=user)
        url = f"postgresql+psycopg2://lst@127.0.0.1:{port}"
        try:
            wait_for(lambda: _pg_answers(port), proc, "postgres", 30, log)
            yield url
        finally:
            os.kill(proc.pid, signal.SIGINT)  # "fast" shutdown: disconnect clients, stop
            proc.wait(timeout=30)
    finally:
        shutil.rmtree(data, ignore_errors=True)
        log.unlink(missing_ok=True)


def _pg_answers(port: int) -> bool:
    import psycopg2

    try:
        psycopg2.connect(host="127.0.0.1", port=port, user="lst", dbname="postgres", connect_timeout=2).close()
        return True
    except psycopg2.OperationalError:
        return False


def create_database(url: str, name: str) -> str:
    """``CREATE DATABASE name`` on the server; returns its SQLAlchemy URL."""
    import psycopg2

    host_port = url.rsplit("@", 1)[1]
    host, port = host_port.split(":")
    conn = psycopg2.connect(host=host, port=int(port), user="lst", dbname="postgres")
    conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    try:
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return f"{url}/{name}"


@contextmanager
def mlflow_server(root: Path):
    """``mlflow server`` with a sqlite store and served artifacts under ``root``; yields its URL."""
    exe = Path(sys.executable).parent / "mlflow"
    if not exe.is_file():
        missing(f"the mlflow command is not installed next to {sys.executable}")
    root.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), root / "server.log"
    # the background job runner is for GenAI jobs: without it the server starts in half the time
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    with open(log, "w") as out:
        proc = subprocess.Popen([str(exe), "server", "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
                                 "--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1",
                                 "--port", str(port), "--workers", "1"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        from lst_lightning.training.tracking import server_problem

        wait_for(lambda: server_problem(url, timeout_s=1) is None, proc, "mlflow server", 90, log)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and its uvicorn child
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
