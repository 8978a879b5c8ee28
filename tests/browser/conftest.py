"""Browser tier: a real ``jupyter lab`` driven by Python Playwright on Debian's Chromium.

The server runs with a free port, a token, and temporary config/runtime/root directories, so
nothing from the developer's own Jupyter setup leaks in. Chromium missing means *skip* on a
laptop but *fail* when ``PERSIST_EXT_REQUIRE_BROWSER=1`` (CI sets it), so a broken install step
can never turn this tier green by skipping.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CHROMIUM = Path(os.environ.get("PERSIST_EXT_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("PERSIST_EXT_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium floods the closed network with refused connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# A clean, offline JupyterLab: no news, no update checks, no announcement toast over the page.
SERVER_CONFIG = {
    "ServerApp": {"allow_root": True, "open_browser": False, "ip": "127.0.0.1"},
    "LabApp": {
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "extension_manager": "readonly",
        "expose_app_in_browser": True,  # window.jupyterapp for tests
    },
    # Notebook 7 is served by the same server (/notebooks/<path>); expose its app as well.
    "JupyterNotebookApp": {"expose_app_in_browser": True},
}
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
STARTUP_TIMEOUT = 90.0


def _unavailable(reason: str) -> None:
    message = f"{reason} Install it with: apt-get install -y chromium fonts-liberation"
    if REQUIRE_BROWSER:
        pytest.fail(f"{message} (PERSIST_EXT_REQUIRE_BROWSER=1: browser tests must run)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _labextension_installed(env: dict[str, str]) -> bool:
    """Whether jupyter's data path (as the server will see it) holds the built extension."""
    found = subprocess.run(
        [sys.executable, "-m", "jupyter", "--paths", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    data_dirs = json.loads(found.stdout)["data"]
    return any(Path(d, "labextensions", "persist-ext", "package.json").is_file() for d in data_dirs)


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it is and how to reach it."""

    url: str
    token: str
    root: Path

    def api(self, path: str) -> Any:
        """GET a JSON endpoint of the server with the token."""
        request = urllib.request.Request(
            f"{self.url}/{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


def _prepare_environment(base: Path) -> dict[str, str]:
    config = base / "config"
    (config / "labconfig").mkdir(parents=True)
    (config / "jupyter_server_config.json").write_text(json.dumps(SERVER_CONFIG))
    (config / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "0",
    }
    env.pop("JUPYTER_DATA_DIR", None)
    if _labextension_installed(env):
        return env  # the real thing: `pip install .` put the bundle and server config in place
    bundle = REPO / "persist_ext" / "labextension"
    if REQUIRE_BROWSER or not (bundle / "package.json").is_file():
        pytest.fail(
            "The persist-ext JupyterLab extension is not installed in this environment. "
            "Run `make install` (or `pip install .`) first."
        )
    # Developer fallback: a source checkout with a built bundle (`cd js && jlpm build`).
    data = base / "data" / "labextensions"
    data.mkdir(parents=True)
    (data / "persist-ext").symlink_to(bundle, target_is_directory=True)
    server_d = config / "jupyter_server_config.d"
    server_d.mkdir()
    (server_d / "persist_ext.json").write_text(
        (REPO / "jupyter-config" / "server-config" / "persist_ext.json").read_text()
    )
    env["JUPYTER_DATA_DIR"] = str(base / "data")
    return env


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, token: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"jupyter lab did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log.read_text()}")


def _seed_stores(root: Path) -> None:
    """Stores for the sidebar to show, made before the server starts."""
    import numpy as np

    from persist_ext.storage._store import Store

    with Store(root / "project" / ".persist") as store:
        store.set("cell/load-data", np.zeros((64, 3)))
        store.set("answer", 42)
    (root / "empty").mkdir()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A browser test waits for a real JupyterLab in a real Chromium; on a shared 2-core CI
    # machine a wait can overrun its timeout. Such a test runs up to three times: one that
    # fails every time still fails the run.
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=2))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A ``jupyter lab`` for the whole session, on a free port with a random token."""
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM}.")
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    _seed_stores(root)
    env = _prepare_environment(base)
    port, token = _free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    log = base / "jupyter-lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--allow-root",
                "--no-browser",
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(process, url, token, log)
        yield Lab(url=url, token=token, root=root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # JupyterLab 4.0 can hang on SIGTERM
            process.kill()
            process.wait()


# Module scope, not session: while sync Playwright is alive it marks its asyncio loop as the
# running one in this thread, which breaks every later test that uses asyncio.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Python Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM}.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Python playwright is not installed (pip install playwright).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught errors raised in the page during a test."""
    return []


@pytest.fixture
def page(browser: Any, lab: Lab, page_errors: list[str]) -> Iterator[Any]:
    """A JupyterLab page in a fresh browser context, loaded and restored."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        # ?reset: a fresh workspace, so no test starts from the panel state another one left
        # (JupyterLab drops the parameter once it has reset, so a reload restores state).
        page.goto(f"{lab.url}/lab?reset&token={lab.token}")
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
        page.evaluate("() => window.jupyterapp.restored.then(() => true)")
        yield page
    finally:
        context.close()


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
