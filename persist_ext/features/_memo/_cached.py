"""``persist_ext.cache``: cache a function's results in a store, keyed on its arguments and code.

A call is looked up by its key (:mod:`._key`: arguments, the function's code, the user code
and globals it reaches). A hit loads the stored result (arrays at disk speed, or memory-mapped
with ``mmap=True``); a miss runs the function once — also when several threads, coroutines
or processes make the same call at the same time: one claims the call with the store's
atomic ``add`` and the others wait for its result — and stores the result.

The user's call never fails because of the cache: an argument that cannot be fingerprinted,
a result that cannot be stored and a stored result that cannot be read each give a
:class:`~persist_ext.CacheWarning` and the function simply runs.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import pickle
import reprlib
import socket
import threading
import time
import types
import warnings
from collections.abc import Callable, Generator, Iterable
from typing import Any

from ..._errors import CacheError, CacheWarning
from ..._format import format_ago, format_duration
from ..._limits import parse_duration
from ...storage._protocol import KeyValueStore
from .._budget import budget_of, enforce_budget, notify
from .._cellcache._explain import Difference, Explanation, diff_components
from .._tasks._storespec import StoreSpec, open_store, spec_for
from .._usage import flush_uses, note_use
from ._key import Binder, CallKey, CodeState, argument_components, call_digest
from ._layout import LOCK, RESULT, USED, function_prefix, iter_calls
from ._runtime import LEASES, default_store, open_location

__all__ = ["CachedFunction", "cache"]

_MISS = object()
# Small results are also kept pickled in memory (``CachedFunction._hot``): a hit unpickles
# those bytes instead of reading and authenticating the entry. Before that it makes sure
# the entry is still in the store (another process may have cleared, evicted or replaced
# it): when the store offers a change token (``Store.change_token``: one index query, no
# row read) and it has not moved since the entry was last seen, nothing else is read;
# otherwise the entry's info is read (is it still the entry whose bytes we keep: same
# creation time?) and the token remembered.
_HOT_BYTES = 64 * 1024
_HOT_ENTRIES = 512
_ENFORCE_EVERY = 2.0
_repr = reprlib.Repr()
_repr.maxstring = 24
_repr.maxother = 24
_repr.maxlist = _repr.maxtuple = _repr.maxdict = 4


def _describe(value: Any) -> str:
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def _short(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return f"{type(value).__name__}{tuple(shape)} {value.dtype}"
    if shape is not None:
        return f"{type(value).__name__}{tuple(shape)}"
    try:
        return _repr.repr(value)
    except Exception:
        return f"<{_describe(value)}>"


class _Unbound(TypeError):
    """The arguments do not match the signature (the call itself will say so)."""


class _Flight:
    """One call being computed in this process; others making the same call wait on it."""

    __slots__ = ("event", "value")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: Any = _MISS


class CachedFunction:
    """The cache behind one decorated function (``f.__persist_cache__``).

    Use :func:`cache` to create one; ``f.why(...)``, ``f.clear()`` and ``f.calls()`` are its
    methods.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        ignore: Iterable[str] = (),
        expire: float | str | None = None,
        store: KeyValueStore | str | os.PathLike[str] | None = None,
        mmap: bool = False,
    ) -> None:
        if isinstance(fn, (staticmethod, classmethod)):
            raise CacheError(
                f"@persist_ext.cache got a {type(fn).__name__}; put @cache below "
                f"@{type(fn).__name__} (closest to the def)."
            )
        if not isinstance(fn, types.FunctionType):
            raise CacheError(
                f"@persist_ext.cache needs a function defined with def or async def, not "
                f"{_describe(fn)}; wrap it: cache(lambda *a: obj(*a)) or a def calling it."
            )
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        self._binder = Binder(self.signature)
        self.ignore = frozenset(_names(ignore))
        params = set(self.signature.parameters)
        unknown = sorted(n for n in self.ignore if n not in params and n not in fn.__globals__)
        if unknown:
            raise CacheError(
                f"ignore= names {', '.join(unknown)}, which is neither a parameter of "
                f"{fn.__qualname__}{self.signature} nor a global it can read; name parameters "
                "(or globals) to leave out of the key."
            )
        self.expire = _expire(expire)
        if store is not None and not isinstance(store, (str, os.PathLike, KeyValueStore)):
            raise CacheError(
                f"store= takes a directory, a redis:// URL or a store such as "
                f"persist_ext.Store('.persist'), not {_describe(store)} {store!r}."
            )
        if not isinstance(mmap, (bool, int)):
            raise CacheError(f"mmap= is True or False, not {_describe(mmap)} {mmap!r}.")
        self.mmap = bool(mmap)
        self.function_id = f"{fn.__module__}:{fn.__qualname__}"
        self.name = (
            fn.__qualname__ if fn.__module__ == "__main__" else f"{fn.__module__}.{fn.__qualname__}"
        )
        self._prefix = function_prefix(self.name)
        self._code = CodeState(fn, self.ignore)
        self._store_arg = store
        self._store: KeyValueStore | None = None
        self._spec: StoreSpec | None = None
        self._flights: dict[str, _Flight] = {}
        self._async_flights: dict[tuple[int, str], asyncio.Future[Any]] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        # prefix -> [pickled, token, expires, created, result key, use key]
        self._hot: dict[str, list[Any]] = {}
        self._last_enforced = 0.0

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        # Workers (processes, Dask) get a description of the store, never a connection.
        spec = self._spec or spec_for(self.store)
        return {
            "fn": self.fn,
            "ignore": sorted(self.ignore),
            "expire": self.expire,
            "mmap": self.mmap,
            "spec": spec,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["fn"], ignore=state["ignore"], expire=state["expire"], mmap=state["mmap"]
        )
        self._spec = state["spec"]

    def __repr__(self) -> str:
        return f"<cached function {self.name}>"

    # ------------------------------------------------------------------ the store
    @property
    def store(self) -> KeyValueStore:
        """The store the results live in (resolved on first use)."""
        if self._store is not None:
            return self._store
        given = self._store_arg
        if self._spec is not None:
            return open_store(self._spec)
        if given is None:
            return default_store()
        if isinstance(given, (str, os.PathLike)):
            self._store = open_location(os.fspath(given))
        else:
            self._store = given
        return self._store

    # ------------------------------------------------------------------ keys
    def key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallKey:
        """The key of ``fn(*args, **kwargs)`` now; ``TypeError`` if the arguments do not bind."""
        try:
            arguments = self._binder.bind(args, kwargs)
        except TypeError as exc:
            raise _Unbound(str(exc)) from exc
        code = self._code.current()
        found, unhashable = argument_components(arguments, self.ignore, _describe)
        if code.unhashable:
            unhashable = {**code.unhashable, **unhashable}
        return CallKey(
            call_digest(code.digest, found),
            found,
            code.components,
            code.reaches,
            unhashable,
            list(code.uncertain),
        )

    def _call_text(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
        text = f"{self.fn.__name__}({', '.join(parts)})"
        return text if len(text) <= 120 else text[:117] + "..."

    def _warn(self, problem: str, message: str) -> None:
        if problem in self._warned:
            return
        self._warned.add(problem)
        warnings.warn_explicit(message, CacheWarning, "persist_ext.cache", 1)

    def _usable_key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallKey | None:
        try:
            key = self.key(args, kwargs)
        except _Unbound:
            return None  # the call itself raises the right TypeError
        except Exception as exc:  # the cache must never make the call fail
            self._warn(
                f"key:{type(exc).__name__}",
                f"{self.name}: the call key cannot be computed ({type(exc).__name__}: {exc}); "
                "calls run without the cache.",
            )
            return None
        for why in key.uncertain:
            # The globals it reads are not in the key: a hit could be stale (the cell cache
            # runs such a cell, saying why, for the same reason).
            self._warn(f"uncertain:{why}", f"{self.name}: {why}; calls run without the cache.")
        if key.uncertain:
            return None
        if key.unhashable:
            for name, why in key.unhashable.items():
                self._warn(
                    f"unhashable:{name}",
                    f"{self.name}: {name!r} cannot be fingerprinted ({why}); calls run without "
                    f"the cache. Pass ignore=[{name!r}] to leave it out of the key.",
                )
            return None
        return key

    # ------------------------------------------------------------------ reading and writing
    def _load(self, store: KeyValueStore, prefix: str) -> Any:
        try:
            return store.get(f"{prefix}{RESULT}", _MISS, mmap=self.mmap)
        except Exception as exc:  # CorruptEntryError: class gone, file truncated
            self._warn(
                f"corrupt:{prefix}",
                f"{self.name}: a stored result cannot be read ({type(exc).__name__}: {exc}); "
                "it was removed and the call runs again.",
            )
            try:
                store.delete(f"{prefix}{RESULT}")
            except Exception:
                pass
            return _MISS

    def _hit(self, store: KeyValueStore, prefix: str) -> Any:
        hot = self._hot.get(prefix)
        if hot is not None:
            if self._still_stored(store, hot[4], hot):
                note_use(store, hot[5], hot[4])
                return pickle.loads(hot[0])  # bytes this process pickled itself
            self._hot.pop(prefix, None)
        result = f"{prefix}{RESULT}"
        value = self._load(store, prefix)
        if value is not _MISS:
            note_use(store, f"{prefix}{USED}", result)
            if not self.mmap:
                try:
                    info = store.info(result)  # once per call and process: is it small?
                except Exception:
                    info = None
                self._keep_hot(store, prefix, value, info)
        return value

    @staticmethod
    def _still_stored(store: KeyValueStore, result: str, hot: list[Any]) -> bool:
        """Whether the result kept in memory is still the stored one (see ``_MISS``)."""
        expires = hot[2]
        if expires is not None and time.time() >= expires:
            return False
        changes = getattr(store, "change_token", None)
        try:
            token = changes() if changes is not None else None
            if token is not None and token == hot[1]:
                return True
            info = store.info(result)
        except Exception:
            return False
        if info is None or info.created != hot[3]:
            return False  # removed, or replaced by another process's run of the call
        hot[1] = token  # read before the check: a change after it moves the token again
        return True

    def _keep_hot(self, store: KeyValueStore, prefix: str, value: Any, info: Any) -> None:
        if self.mmap or info is None or info.size > _HOT_BYTES or prefix in self._hot:
            return
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # not picklable by reference here: read it from the store
            return
        if len(data) <= _HOT_BYTES:
            while len(self._hot) >= _HOT_ENTRIES:
                self._hot.pop(next(iter(self._hot)), None)
            # No token yet: the next hit reads the entry's info once and remembers one.
            self._hot[prefix] = [
                data,
                None,
                info.expires,
                info.created,
                f"{prefix}{RESULT}",
                f"{prefix}{USED}",
            ]

    def _save(
        self,
        store: KeyValueStore,
        key: CallKey,
        prefix: str,
        value: Any,
        duration: float,
        text: str,
    ) -> bool:
        meta = {
            "kind": "call",
            "function": self.function_id,
            "name": self.name,
            "call": text,
            "created": time.time(),
            "duration": duration,
            "components": key.components,
        }
        try:
            info = store.set(f"{prefix}{RESULT}", value, expire=self.expire, meta=meta)
            self._keep_hot(store, prefix, value, info)
        except Exception as exc:  # SerializationError, or the store failed
            self._warn(
                f"unstorable:{type(value).__qualname__}",
                f"{self.name}: the result ({_describe(value)}) could not be stored because "
                f"{str(exc).rstrip('.')}; the call is not cached and runs every time. Return a "
                "picklable value (e.g. data instead of an open handle).",
            )
            return False
        self._maybe_enforce(store)
        return True

    def _maybe_enforce(self, store: KeyValueStore) -> None:
        now = time.monotonic()
        if now - self._last_enforced < _ENFORCE_EVERY:
            return
        self._last_enforced = now
        try:
            budget = budget_of(store)
            if budget.is_empty:
                return
            notify(enforce_budget(store, budget))
        except Exception as exc:  # eviction is housekeeping; never fail the call for it
            self._warn("budget", f"{self.name}: applying the store's budget failed: {exc}")

    def _claim(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}

    # ------------------------------------------------------------------ calls
    def _lookup(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
        """``(key, store, prefix, value)`` of a call (``value`` is ``_MISS`` on a miss);
        ``None`` when the call runs without the cache. What sync and async calls share."""
        key = self._usable_key(args, kwargs)
        if key is None:
            return None
        store = self.store
        prefix = f"{self._prefix}{key.digest}/"
        return key, store, prefix, self._hit(store, prefix)

    def _leading(
        self,
        store: KeyValueStore,
        key: CallKey,
        prefix: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[float | None, Any, tuple[Any, bool]]:
        """What the process leading a missed call does, for :meth:`call` and :meth:`acall`.

        Claims the call across processes (the store's atomic ``add``), or waits for the
        process that holds it; then runs it once and stores the result. It yields what the
        caller must do in its own way: a delay (sleep that long, send nothing) or ``None``
        (run the function, send its result, or throw its exception in). Returns
        ``(value, stored)``.
        """
        lock = f"{prefix}{LOCK}"
        delay = 0.002
        while not self._try_claim(store, lock):
            value = self._hit(store, prefix)
            if value is not _MISS:
                return value, True
            yield delay  # another process computes it: wait for its result
            delay = min(delay * 1.5, 0.25)
        try:
            value = self._hit(store, prefix)  # stored between our lookup and our claim?
            if value is not _MISS:
                return value, True
            start = time.perf_counter()
            result = yield None
            duration = time.perf_counter() - start
            stored = self._save(store, key, prefix, result, duration, self._call_text(args, kwargs))
            return result, stored
        finally:
            LEASES.release(store, lock)

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any], fn: Any = None) -> Any:
        """``fn(*args, **kwargs)``, from the store when it was computed before.

        ``fn`` is what the wrapper passes (the function it wraps, ``self.fn``); see ``_wrap``.
        """
        found = self._lookup(args, kwargs)
        if found is None:
            return self.fn(*args, **kwargs)
        key, store, prefix, value = found
        if value is not _MISS:
            return value
        while True:
            with self._lock:
                flight = self._flights.get(key.digest)
                leader = flight is None
                if leader:
                    flight = self._flights[key.digest] = _Flight()
            assert flight is not None
            if not leader:
                flight.event.wait()
                if flight.value is not _MISS:
                    return flight.value  # computed here but not storable: share it
                value = self._hit(store, prefix)
                if value is not _MISS:
                    return value
                continue  # the leader raised: one of the waiters runs it now
            try:
                value, stored = self._lead(store, key, prefix, args, kwargs)
                if not stored:
                    flight.value = value
                return value
            finally:
                with self._lock:
                    del self._flights[key.digest]
                flight.event.set()

    def _lead(
        self,
        store: KeyValueStore,
        key: CallKey,
        prefix: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[Any, bool]:
        steps = self._leading(store, key, prefix, args, kwargs)
        try:
            request = next(steps)
            while True:
                if request is not None:
                    time.sleep(request)
                    request = next(steps)
                    continue
                try:
                    result = self.fn(*args, **kwargs)
                except BaseException as exc:
                    request = steps.throw(exc)  # releases the claim, re-raises
                else:
                    request = steps.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def acall(self, args: tuple[Any, ...], kwargs: dict[str, Any], fn: Any = None) -> Any:
        """``await fn(*args, **kwargs)``, from the store when it was computed before."""
        found = self._lookup(args, kwargs)
        if found is None:
            return await self.fn(*args, **kwargs)
        key, store, prefix, value = found
        if value is not _MISS:
            return value
        loop = asyncio.get_running_loop()
        slot = (id(loop), key.digest)
        while True:
            future = self._async_flights.get(slot)
            if future is not None:
                try:
                    shared = await asyncio.shield(future)
                except Exception:
                    continue  # the leader raised: run it ourselves
                if shared is not _MISS:
                    return shared
                value = self._hit(store, prefix)
                if value is not _MISS:
                    return value
                continue
            future = loop.create_future()
            self._async_flights[slot] = future
            try:
                value, stored = await self._alead(store, key, prefix, args, kwargs)
            except BaseException as exc:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError())
                    future.exception()  # mark retrieved: waiters re-run, nobody must log it
                raise
            else:
                future.set_result(_MISS if stored else value)
                return value
            finally:
                self._async_flights.pop(slot, None)

    async def _alead(
        self,
        store: KeyValueStore,
        key: CallKey,
        prefix: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[Any, bool]:
        steps = self._leading(store, key, prefix, args, kwargs)
        try:
            request = next(steps)
            while True:
                if request is not None:
                    await asyncio.sleep(request)
                    request = next(steps)
                    continue
                try:
                    result = await self.fn(*args, **kwargs)
                except BaseException as exc:
                    request = steps.throw(exc)  # releases the claim, re-raises
                else:
                    request = steps.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _try_claim(self, store: KeyValueStore, lock: str) -> bool:
        claim = self._claim()
        try:
            added = store.add(lock, claim, expire=LEASES.lease)
        except Exception:  # a store without a working add: compute without the claim
            return True
        if added:
            LEASES.hold(store, lock, claim)
        return bool(added)

    # ------------------------------------------------------------------ inspection
    def why(self, *args: Any, **kwargs: Any) -> Explanation:
        """Say whether ``f(*args, **kwargs)`` would be restored, and if not, what differs.

        The call is compared with the stored call of this function closest to it: the
        explanation names the argument, function (and the helper it calls), or global that
        changed.
        """
        text = self._call_text(args, kwargs)
        try:
            key = self.key(args, kwargs)
        except TypeError as exc:
            raise CacheError(
                f"{text} does not match {self.fn.__qualname__}{self.signature}: {exc}"
            ) from exc
        if key.uncertain:
            return Explanation(
                self.name, f"{text} would run without the cache: {'; '.join(key.uncertain)}."
            )
        if key.unhashable:
            names = ", ".join(key.unhashable)
            return Explanation(
                self.name,
                f"{text} would run without the cache: {names} cannot be fingerprinted "
                f"(pass ignore=[...] to leave it out).",
            )
        store = self.store
        entries = list(iter_calls(store, self.name))
        prefix = f"{self._prefix}{key.digest}/"
        for entry in entries:
            if entry.prefix == prefix:
                return Explanation(
                    self.name,
                    f"{text} would be restored: stored {format_ago(entry.created)}, the call "
                    f"took {format_duration(entry.duration)}.",
                )
        if not entries:
            return Explanation(
                self.name, f"{text} would run: nothing is stored for {self.name} yet."
            )
        best: list[Difference] | None = None
        closest = entries[0]
        for entry in entries:
            diffs = diff_components(entry.components, key.components, key.reaches)
            if best is None or len(diffs) < len(best):
                best, closest = diffs, entry
        differences = [_as_argument(d) for d in best or []]
        return Explanation(
            self.name,
            f"{text} would run: compared with the closest stored call {closest.call}:",
            differences,
        )

    def calls(self) -> list[Any]:
        """The stored calls of this function (call text, size, hits, age), newest first."""
        flush_uses()
        found = list(iter_calls(self.store, self.name))
        found.sort(key=lambda e: e.created, reverse=True)
        return found

    def clear(self) -> int:
        """Remove every stored call of this function; return how many."""
        store = self.store
        self._hot.clear()
        results = [k for k in store.keys(self._prefix) if k.endswith(f"/{RESULT}")]
        for key in results:
            store.delete(key)  # results first: a concurrent reader sees a miss, not debris
        for key in list(store.keys(self._prefix)):
            store.delete(key)
        return len(results)


def _as_argument(diff: Difference) -> Difference:
    if diff.kind != "input":
        return diff
    message = diff.message.replace("input", "argument", 1)
    return Difference(diff.kind, diff.name, diff.change, diff.old, diff.new, message)


def _names(ignore: Iterable[str]) -> list[str]:
    if isinstance(ignore, str):
        return [ignore]
    names = list(ignore)
    bad = [n for n in names if not isinstance(n, str) or not n.isidentifier()]
    if bad:
        raise CacheError(f"ignore= takes parameter names, got {bad!r}.")
    return names


def _expire(expire: float | str | None) -> float | None:
    if expire is None:
        return None
    if isinstance(expire, str):
        try:
            return parse_duration(expire)
        except ValueError as exc:
            raise CacheError(f"expire={expire!r}: {exc}") from None
    if isinstance(expire, bool) or not isinstance(expire, (int, float)) or expire <= 0:
        raise CacheError(f"expire= takes positive seconds or text like '7d', not {expire!r}.")
    return float(expire)


def _wrap(fn: types.FunctionType, cached: CachedFunction) -> Callable[..., Any]:
    # A real function (not a callable object): a cell or function that calls it fingerprints
    # it like any user function, pickle finds it by name, and methods bind as usual. Passing
    # ``fn`` puts the wrapped function in the wrapper's closure, so code calling the wrapper
    # is keyed on the wrapped function's code (edit it: callers miss too).
    if cached.is_async:

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await wrapper.__persist_cache__.acall(args, kwargs, fn)  # type: ignore[attr-defined]

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]  # sync variant
            return wrapper.__persist_cache__.call(args, kwargs, fn)  # type: ignore[attr-defined]

    functools.update_wrapper(wrapper, fn)
    wrapper.__persist_cache__ = cached  # type: ignore[attr-defined]
    wrapper.why = cached.why  # type: ignore[attr-defined]
    wrapper.clear = cached.clear  # type: ignore[attr-defined]
    wrapper.calls = cached.calls  # type: ignore[attr-defined]
    return wrapper


def cache(
    fn: Callable[..., Any] | None = None,
    *,
    ignore: Iterable[str] = (),
    expire: float | str | None = None,
    store: KeyValueStore | str | os.PathLike[str] | None = None,
    mmap: bool = False,
) -> Any:
    """Cache a function's results in a store, keyed on its arguments and its code.

    Use as ``@cache`` or ``@cache(ignore=[...], expire="7d", store=..., mmap=True)`` on a
    function, a method or an ``async def``. A call is a hit when the arguments (by value:
    arrays and frames hashed at memory speed; ``f(1)`` and ``f(x=1)`` alike), the function's
    code, the code of the user functions and classes it reaches (transitively) and the data
    globals they read are the same as for a stored call. Results survive kernel restarts and
    are shared by every process using the store (threads, task-group workers, Dask workers).
    Identical calls made at the same time run once: the others wait for its result.

    Parameters
    ----------
    fn
        The function (when used as ``@cache`` without parentheses).
    ignore
        Parameter names (or global names) left out of the key, e.g. a connection or a
        ``verbose`` flag.
    expire
        Seconds, or text like ``"12h"`` / ``"7d"``, after which a stored call is forgotten.
    store
        A :class:`~persist_ext.Store`, :class:`~persist_ext.RedisStore` (or any store), a
        directory, or a ``redis://`` URL. Default: the notebook's store (the one ``%persist``
        uses).
    mmap
        Restore large numpy results memory-mapped (read-only) instead of reading them.

    Returns
    -------
    callable
        A function with the same signature, plus ``why(*args, **kwargs)`` (would this call
        be restored, and if not, what differs), ``clear()`` and ``calls()``.

    Raises
    ------
    CacheError
        ``fn`` is not a function, ``ignore=`` names something that is neither a parameter
        nor a global, or ``expire=`` is not a positive duration.

    Examples
    --------
    >>> import tempfile
    >>> from persist_ext import Store, cache
    >>> @cache(store=Store(tempfile.mkdtemp()))
    ... def area(r, verbose=False):
    ...     return 3.14159 * r * r
    >>> area(2.0), area(r=2.0)  # the second call is a hit
    (12.56636, 12.56636)
    >>> print(area.why(3.0))  # doctest: +ELLIPSIS
    area(3.0) would run: compared with the closest stored call area(2.0):
      - argument r changed
    >>> cache(ignore=["radius"])(lambda r: r)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.CacheError: ignore= names radius, which is neither a parameter of ...
    """

    def decorate(function: Callable[..., Any]) -> Any:
        if isinstance(function, (staticmethod, classmethod)) or not isinstance(
            function, types.FunctionType
        ):
            CachedFunction(function)  # raises the CacheError that says what to do
        cached = CachedFunction(function, ignore=ignore, expire=expire, store=store, mmap=mmap)
        return _wrap(function, cached)  # type: ignore[arg-type]

    if fn is not None:
        return decorate(fn)
    return decorate
