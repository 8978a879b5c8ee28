"""Who persist_ext trusts: the secret, the MAC over every stored entry, and re-signing.

Stored pickles are code. Everything persist_ext writes that could run code when decoded
carries an HMAC-SHA256 computed with a secret kept **outside** every store, and nothing is
unpickled before its MAC checks out (see docs/security.md for the threat model).

Where the secret comes from, first match wins:

1. :func:`use_secret_file` (the ``PersistMagics.secret_file`` traitlet calls it);
2. ``$PERSIST_EXT_SECRET``: the secret itself (how a Dask cluster or a CI job hands it to
   workers that cannot read the file);
3. ``$PERSIST_EXT_SECRET_FILE``: the path of a file holding it;
4. ``<jupyter data dir>/persist_ext/secret``, created with mode 0600 on first use.

Process-pool workers inherit the environment and read the same file; :func:`use_secret_file`
exports ``$PERSIST_EXT_SECRET_FILE`` so they follow a configured path too.

:func:`trust` is the one way to make entries signed with another secret (a colleague's store,
a store written before signing existed) loadable: the user vouches for them, and they are
re-signed with this secret, as ``jupyter trust`` does for notebooks.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from .._errors import StoreError

__all__ = [
    "ENV_SECRET",
    "ENV_SECRET_FILE",
    "MAC_SIZE",
    "mac",
    "mac_of",
    "secret_path",
    "trust_hint",
    "use_secret_file",
]

logger = logging.getLogger("persist_ext")

ENV_SECRET = "PERSIST_EXT_SECRET"
ENV_SECRET_FILE = "PERSIST_EXT_SECRET_FILE"
MAC_SIZE = 32
_MIN_SECRET = 16  # characters: shorter secrets are guessable
_override: Path | None = None
_lock = threading.Lock()
_cache: tuple[tuple[object, ...], bytes, Any, Any] | None = None
# The configuration is compared on every MAC check (a changed $PERSIST_EXT_SECRET applies at
# the next check). ``os.environ.get`` costs ~0.5-1.3 us per name here (key encoding, and a
# KeyError raised and caught for an unset name): more than the HMAC of a small entry. Every
# change Python code makes to the environment goes through ``os.environ``, which keeps it in
# its mapping of encoded names to encoded values; looking the two encoded names up there is
# the same comparison at dict speed. Used only while ``os.environ`` is that very mapping
# (CPython and PyPy); anything else falls back to ``os.environ.get``.
_ENVIRON = os.environ
_ENV_DATA: Any = getattr(_ENVIRON, "_data", None)
_ENV_NAMES: tuple[Any, Any] | None = None
if isinstance(_ENV_DATA, dict) and callable(getattr(_ENVIRON, "encodekey", None)):
    _ENV_NAMES = (_ENVIRON.encodekey(ENV_SECRET), _ENVIRON.encodekey(ENV_SECRET_FILE))


def default_secret_path() -> Path:
    """``<jupyter data dir>/persist_ext/secret`` (``$JUPYTER_DATA_DIR`` moves it)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "persist_ext" / "secret"


def secret_path() -> Path | None:
    """The secret file in use, or ``None`` when ``$PERSIST_EXT_SECRET`` holds the secret."""
    if _override is not None:
        return _override
    if os.environ.get(ENV_SECRET):
        return None
    configured = os.environ.get(ENV_SECRET_FILE)
    return Path(configured).expanduser() if configured else default_secret_path()


def use_secret_file(path: str | os.PathLike[str] | None) -> None:
    """Sign and verify with the secret in ``path`` (``None``: back to the default).

    The path is exported as ``$PERSIST_EXT_SECRET_FILE`` so worker processes started
    afterwards use it too. The file is created (mode 0600) if it does not exist.
    """
    global _override, _cache
    with _lock:
        _cache = None  # read the file again, even when the path is the same (a rotated secret)
        if path is None:
            _override = None
            os.environ.pop(ENV_SECRET_FILE, None)
            return
        _override = Path(path).expanduser().absolute()
        os.environ[ENV_SECRET_FILE] = str(_override)
        if os.environ.pop(ENV_SECRET, None):
            logger.info("persist_ext: %s overrides $%s from now on", _override, ENV_SECRET)


def _read_or_create(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = _create(path)
    except OSError as exc:
        raise StoreError(
            f"Cannot read persist_ext's secret {path}: {exc}. Fix its permissions, or point "
            f"${ENV_SECRET_FILE} at a readable secret file."
        ) from exc
    secret = data.strip()
    if len(secret) < _MIN_SECRET:
        raise StoreError(
            f"persist_ext's secret {path} is empty or shorter than {_MIN_SECRET} characters; "
            "delete it (a new one is created on next use) or write a longer random secret."
        )
    return secret


def _create(path: Path) -> bytes:
    """Write a new random secret with mode 0600; if another process won the race, use its."""
    secret = secrets.token_hex(32).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secret + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # fails if another process created it first
            except FileExistsError:
                return path.read_bytes()
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create persist_ext's secret {path}: {exc}. Set ${ENV_SECRET_FILE} to a "
            f"writable location, or ${ENV_SECRET} to a random string."
        ) from exc
    logger.info("persist_ext: created a new secret in %s", path)
    return secret


def _key() -> bytes:
    return _state()[1]


def _configuration() -> tuple[object, ...]:
    """Where the secret comes from now: the override and the two variables' (encoded) values."""
    names = _ENV_NAMES
    if names is not None and os.environ is _ENVIRON:
        return (_override, _ENV_DATA.get(names[0]), _ENV_DATA.get(names[1]))
    return (_override, os.environ.get(ENV_SECRET), os.environ.get(ENV_SECRET_FILE))


def _state() -> tuple[tuple[object, ...], bytes, Any, Any]:
    """(configuration, key, inner and outer SHA-256 states of HMAC keyed with it)."""
    global _cache
    state = _configuration()
    cached = _cache
    if cached is not None and cached[0] == state:
        return cached
    with _lock:
        state = _configuration()
        env_secret = os.environ.get(ENV_SECRET)
        if env_secret and _override is None:
            secret = env_secret.strip().encode()
            if len(secret) < _MIN_SECRET:
                raise StoreError(
                    f"${ENV_SECRET} is shorter than {_MIN_SECRET} characters; set it to a long "
                    "random string (e.g. python -c 'import secrets; print(secrets.token_hex(32))')."
                )
        else:
            path = secret_path()
            assert path is not None
            secret = _read_or_create(path)
        # Domain-separated key: the raw secret never keys anything directly.
        key = hashlib.sha256(b"persist_ext entry key\0" + secret).digest()
        # HMAC (RFC 2104) with its two keyed states computed once: each MAC then costs two
        # state copies instead of re-keying (3x faster on the small records of a store).
        block = key.ljust(64, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
        computed = (state, key, inner, outer)
        if _configuration() == state:  # not changed by another thread meanwhile
            _cache = computed
        return computed


_JOIN_LIMIT = 1 << 14


def mac(*parts: bytes | memoryview) -> bytes:
    """HMAC-SHA256 (keyed with the secret configured now) of the concatenation of ``parts``."""
    if len(parts[-1]) <= _JOIN_LIMIT and sum(map(len, parts)) <= _JOIN_LIMIT:
        return mac_of(b"".join(parts))  # one call for the small records of a store
    _, _, inner, outer = _state()
    hasher = inner.copy()
    for part in parts:
        hasher.update(part)
    final = outer.copy()
    final.update(hasher.digest())
    return final.digest()


def mac_of(message: bytes | memoryview) -> bytes:
    """:func:`mac` of one message (what an inline record's check calls on every read)."""
    _, _, inner, outer = _state()
    hasher = inner.copy()
    hasher.update(message)
    final = outer.copy()
    final.update(hasher.digest())
    return final.digest()


def trust_hint(where: str | os.PathLike[str] | None) -> str:
    """The sentence every "untrusted" error ends with: the one command that trusts a store."""
    target = repr(str(where)) if where is not None else "'<store directory>'"
    return (
        f"If you trust its origin, re-sign it with persist_ext.trust({target}) "
        f"(or %persist trust {where if where is not None else 'DIR'})."
    )
