"""Shared fixtures (a real Redis server) and the rule that CI never skips a test.

With ``PERSIST_EXT_NO_SKIPS=1`` (set by ``.ci/run``) a skipped test is reported as a failure:
a missing browser, server or package must make CI red, never quietly green.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_REDIS = "PERSIST_EXT_REQUIRE_REDIS"
NO_SKIPS = "PERSIST_EXT_NO_SKIPS"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get(NO_SKIPS) == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, and {NO_SKIPS}=1 forbids skips: {reason}"


# One throwaway signing secret for this test run, shared with every kernel, server and worker
# it starts (they inherit the environment): no test writes to the user's Jupyter data dir.
if not os.environ.get("PERSIST_EXT_SECRET") and not os.environ.get("PERSIST_EXT_SECRET_FILE"):
    os.environ["PERSIST_EXT_SECRET_FILE"] = str(
        Path(tempfile.mkdtemp(prefix="persist-ext-secret-")) / "secret"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a throwaway ``redis-server`` on a free loopback port; yield its URL.

    No persistence (``--save '' --appendonly no``), its files in a temporary directory.
    Skipped when ``redis-server`` is not installed, unless ``PERSIST_EXT_REQUIRE_REDIS=1``
    (set by CI), where its absence fails the run.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get(REQUIRE_REDIS) == "1":
            pytest.fail(f"{message}, and {REQUIRE_REDIS}=1 requires it.")
        pytest.skip(message)
    workdir: Path = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(workdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = workdir / "redis.log"
                detail = log.read_text()[-2000:] if log.exists() else "(no log)"
                pytest.fail(f"redis-server did not start on port {port}:\n{detail}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def redis_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start extra ``redis-server``s with given settings: ``url = redis_factory(*args)``.

    For tests that need a server configured differently from ``redis_server`` (an evicting
    ``maxmemory-policy``, a tiny ``maxmemory``). Each is stopped when the test ends. Skips or
    fails like ``redis_server`` when ``redis-server`` is missing.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get(REQUIRE_REDIS) == "1":
            pytest.fail(f"{message}, and {REQUIRE_REDIS}=1 requires it.")
        pytest.skip(message)
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> str:
        workdir: Path = tmp_path_factory.mktemp("redis-extra")
        port = _free_port()
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(workdir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(workdir / "redis.log"),
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        deadline = time.monotonic() + 20
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server {args} did not start on port {port}")
            time.sleep(0.05)
        return f"redis://127.0.0.1:{port}/0"

    try:
        yield start
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """IPython's test shell with persist_ext loaded, working in ``tmp_path``.

    The store defaults to ``tmp_path/.persist`` (no ``PERSIST_EXT_*`` variable leaks in);
    the variables a test defines and the automatic checkpointing it turned on are undone.
    """
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    monkeypatch.setitem(sys.modules, "__main__", shell.user_module)
    for name in ("PERSIST_EXT_DIR", "PERSIST_EXT_MAX_SIZE", "PERSIST_EXT_MAX_COUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    shell.run_line_magic("load_ext", "persist_ext")
    # Trivial test cells may run faster than min_time and would be run, not restored.
    shell.run_line_magic("config", "PersistMagics.min_time = 0")
    before = set(shell.user_ns)
    try:
        yield shell
    finally:
        shell.run_line_magic("config", "PersistMagics.autocheckpoint = False")
        shell.run_line_magic("unload_ext", "persist_ext")
        for name in set(shell.user_ns) - before:
            del shell.user_ns[name]
