"""The REST API against its OpenAPI description, property-based (schemathesis), on a real server.

A ``jupyter server`` subprocess serves a root holding a store with cached cells, a task group
with failures, a stash, a foreign diskcache cache and a crafted index. Schemathesis generates
requests for every operation from ``openapi.yaml`` (valid and invalid arguments alike); no
answer may be a 5xx, and every documented answer must match its schema.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

import persist_ext.interfaces.server as server_package

from ._seed import fill, run_group, store_cell

SPEC = Path(server_package.__file__).with_name("openapi.yaml")


def _seed(root: Path) -> None:
    import diskcache

    from persist_ext.storage._store import Store

    store_cell(root / ".persist", "load", hits=2)
    store_cell(root / ".persist", "plot", digest="a" * 32)
    run_group(root / ".persist", "squares", ["k1", "k2", "k3"])
    fill(root / ".persist", (f"stash/{i:04d}" for i in range(300)))
    with Store(root / ".persist") as store:
        from persist_ext import cache

        @cache(store=store)
        def double(x: int) -> int:
            return 2 * x

        double(1), double(2), double(1)
    with diskcache.Cache(root / "foreign") as cache:
        cache.set("x", 1)
    (root / "junk").mkdir()
    (root / "junk" / "cache.db").write_bytes(b"not sqlite")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    base = tmp_path_factory.mktemp("openapi")
    root = base / "root"
    root.mkdir()
    _seed(root)
    config = base / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"persist_ext": True}}})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
    }
    log = (base / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.ip=127.0.0.1",
            "--allow-root",
            "--no-browser",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"jupyter server did not start:\n{(base / 'server.log').read_text()}"
                    )
                time.sleep(0.25)
        yield url, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


schema = schemathesis.openapi.from_path(SPEC)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_answers_match_the_description(case, server) -> None:
    url, token = server
    # Most generated paths name no store: steer half the cases to real ones.
    if case.query and "path" in case.query and isinstance(case.query["path"], str):
        choice = hash(case.query["path"]) % 4
        if choice == 0:
            case.query["path"] = ".persist"
        elif choice == 1:
            case.query["path"] = "junk"
    case.headers = {**(case.headers or {}), "Authorization": f"token {token}"}
    response = case.call(base_url=f"{url}/persist-ext/api", timeout=60)
    assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
    case.validate_response(
        response,
        checks=[status_code_conformance, response_schema_conformance],
        excluded_checks=[negative_data_rejection],
    )
