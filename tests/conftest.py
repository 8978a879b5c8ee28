"""Shared fixtures (a real Redis server) and the rule that CI never skips a test.

With ``PERSIST_EXT_NO_SKIPS=1`` (set by ``.ci/run``) a skipped test is reported as a failure:
a missing browser, server or package must make CI red, never quietly green.
"""

from __future__ import annotations

import gc
import logging
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
_SECRET_FOLDER: str | None = None
if not os.environ.get("PERSIST_EXT_SECRET") and not os.environ.get("PERSIST_EXT_SECRET_FILE"):
    _SECRET_FOLDER = tempfile.mkdtemp(prefix="persist-ext-secret-")
    os.environ["PERSIST_EXT_SECRET_FILE"] = str(Path(_SECRET_FOLDER) / "secret")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SECRET_FOLDER is not None:  # the test run's own, not one it was given
        shutil.rmtree(_SECRET_FOLDER, ignore_errors=True)


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


def _redis_binary() -> str:
    """The ``redis-server`` path; skip, or fail when ``PERSIST_EXT_REQUIRE_REDIS=1`` (CI)."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get(REQUIRE_REDIS) == "1":
            pytest.fail(f"{message}, and {REQUIRE_REDIS}=1 requires it.")
        pytest.skip(message)
    return binary


def _start_redis(binary: str, workdir: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """Start ``redis-server`` on a free loopback port with ``args``; wait until it answers.

    No persistence (``--save '' --appendonly no``), its files in ``workdir``.
    """
    port = _free_port()
    log = workdir / "redis.log"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    command += ["--save", "", "--appendonly", "no", "--logfile", str(log), *args]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not _ping(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            detail = log.read_text()[-2000:] if log.exists() else "(no log)"
            pytest.fail(f"redis-server {list(args)} did not start on port {port}:\n{detail}")
        time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a throwaway ``redis-server`` on a free loopback port; yield its URL.

    Skipped when ``redis-server`` is not installed, unless ``PERSIST_EXT_REQUIRE_REDIS=1``
    (set by CI), where its absence fails the run.
    """
    proc, url = _start_redis(_redis_binary(), tmp_path_factory.mktemp("redis"))
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture
def redis_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start extra ``redis-server``s with given settings: ``url = redis_factory(*args)``.

    For tests that need a server configured differently from ``redis_server`` (an evicting
    ``maxmemory-policy``, a tiny ``maxmemory``). Each is stopped when the test ends. Skips or
    fails like ``redis_server`` when ``redis-server`` is missing.
    """
    binary = _redis_binary()
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> str:
        proc, url = _start_redis(binary, tmp_path_factory.mktemp("redis-extra"), *args)
        procs.append(proc)
        return url

    try:
        yield start
    finally:
        for proc in procs:
            _stop(proc)


@pytest.fixture
def ip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """IPython's test shell with persist_ext loaded, working in ``tmp_path``.

    The store defaults to ``tmp_path/.persist`` (no ``PERSIST_EXT_*`` variable leaks in);
    the variables a test defines and the automatic checkpointing it turned on are undone.
    """
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    monkeypatch.setitem(sys.modules, "__main__", shell.user_module)
    if logging.getLogger("distributed.nanny").handlers:
        # An earlier test's Dask nannies, in a reference cycle, take their log handlers off
        # ``distributed.nanny`` only when the cyclic collector frees them: if that fell
        # inside a test's cell, the cell "changed the logging configuration" and ran.
        gc.collect()
    for name in (
        "PERSIST_EXT_DIR",
        "PERSIST_EXT_MAX_SIZE",
        "PERSIST_EXT_MAX_COUNT",
        "PERSIST_EXT_MAX_AGE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    shell.run_line_magic("load_ext", "persist_ext")
    # Trivial test cells may run faster than min_time and would be run, not restored.
    shell.run_line_magic("config", "PersistMagics.min_time = 0")
    before = set(shell.user_ns)
    # A test's cell may configure logging for the whole process (`logging.basicConfig(...,
    # force=True)`): later tests start from the root logger as it was.
    root = logging.getLogger()
    root_level = root.level
    try:
        yield shell
    finally:
        shell.run_line_magic("config", "PersistMagics.autocheckpoint = False")
        shell.run_line_magic("unload_ext", "persist_ext")
        for name in set(shell.user_ns) - before:
            del shell.user_ns[name]
        root.setLevel(root_level)
        for handler in list(root.handlers):  # basicConfig's (pytest's are subclasses)
            if type(handler) in (logging.StreamHandler, logging.FileHandler):
                root.removeHandler(handler)
