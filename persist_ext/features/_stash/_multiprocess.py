"""A stash whose values are computed in worker processes: :class:`MultiProcessStash`."""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import time
from abc import abstractmethod
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

from ..._errors import InvalidArgumentError, PersistableError
from ._base import PreemptiveStash, PrimeableStash, Stash, chunks

__all__ = ["MultiProcessStash"]

logger = logging.getLogger("persist_ext")


def _run_chunk(
    stash: MultiProcessStash, chunk_id: int, chunk: list[Any]
) -> tuple[int, list | None]:
    """Worker-process entry point: process one chunk with a copy of ``stash``.

    A delegate that several processes may write (``_PROCESS_SAFE``, e.g. a directory or a
    diskcache store) is written here, so results never travel back through a pipe; any other
    delegate's results are returned and dumped by the parent.
    """
    stash.is_child = True
    started = time.perf_counter()
    if getattr(stash.delegate, "_PROCESS_SAFE", False):
        count = 0
        for key, value in stash._process(chunk):
            stash.delegate.dump(key, value)
            count += 1
        result: tuple[int, list | None] = (count, None)
    else:
        pairs = list(stash._process(chunk))
        result = (len(pairs), pairs)
    logger.debug(
        "chunk %d: %d values in %.2fs (pid %d)",
        chunk_id,
        result[0],
        time.perf_counter() - started,
        os.getpid(),
    )
    return result


class MultiProcessStash(PrimeableStash, PreemptiveStash):
    """Fill ``delegate`` by processing chunks of work in worker processes, once.

    Subclasses implement two methods:

    * :meth:`_create_data` (runs in this process) returns the work items, e.g. file names;
    * :meth:`_process` (runs in a worker process) turns a chunk (a list of items) into
      ``(key, value)`` pairs.

    On first use (any read or write), if the delegate has no keys, the items are split in
    chunks of ``chunk_size`` (``0``: one chunk per worker) and processed by ``workers``
    processes (``workers <= 0`` means ``os.cpu_count() + workers``, so ``-1`` leaves one
    core free). Workers dump straight into a delegate that several processes may write
    (:class:`~persist_ext.DirectoryStash`, :class:`~persist_ext.DiskCacheStash`); for any other
    delegate the pairs are sent back and dumped here. If a worker fails, what this run wrote
    is removed (the delegate was empty before it) and :class:`~persist_ext.PersistableError`
    is raised, so a later call starts over instead of trusting partial data.

    The stash is pickled to reach the workers, so the subclass must be importable (defined in
    a module, not in a notebook cell) when the ``spawn`` or ``forkserver`` start method is
    used; ``mp_context`` chooses it (default: the platform's).

    Examples
    --------
    >>> import tempfile
    >>> from persist_ext.features._stash import DirectoryStash
    >>> class Squares(MultiProcessStash):  # doctest: +SKIP
    ...     def _create_data(self):
    ...         return range(10)
    ...     def _process(self, chunk):
    ...         return ((str(i), i * i) for i in chunk)
    >>> stash = Squares(DirectoryStash(tempfile.mkdtemp()), workers=2)  # doctest: +SKIP
    >>> stash["3"]  # doctest: +SKIP
    9
    """

    def __init__(
        self,
        delegate: Stash,
        chunk_size: int = 0,
        workers: int = 1,
        *,
        mp_context: BaseContext | str | None = None,
        config: Any = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(delegate, **kwargs)
        # zensols' fields: its config factory passes the configuration and the section name
        self.config = config
        self.name = name
        for arg, value in (("chunk_size", chunk_size), ("workers", workers)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidArgumentError(
                    f"{arg} must be an int, got {type(value).__name__} {value!r}; e.g. "
                    "chunk_size=100, workers=-1 (all cores but one)."
                )
        if chunk_size < 0:
            raise InvalidArgumentError(
                f"chunk_size must be >= 0 (0: one chunk per worker), got {chunk_size}."
            )
        self.chunk_size = chunk_size
        self.workers = workers if workers >= 1 else max(1, (os.cpu_count() or 1) + workers)
        self.mp_context = mp_context
        self.is_child = False

    @abstractmethod
    def _create_data(self) -> Iterable[Any]:
        """Return the work items (runs in the parent process)."""

    @abstractmethod
    def _process(self, chunk: list[Any]) -> Iterable[tuple[str, Any]]:
        """Turn a chunk of work items into ``(key, value)`` pairs (runs in a worker)."""

    def _context(self) -> BaseContext:
        if isinstance(self.mp_context, str):
            return multiprocessing.get_context(self.mp_context)
        return self.mp_context or multiprocessing.get_context()

    def _spawn_work(self) -> int:
        """Process every chunk in worker processes; return the number of values stored."""
        data: Iterable[Any] = self._create_data()
        chunk_size = self.chunk_size
        if chunk_size < 1:
            data = tuple(data)
            chunk_size = max(1, math.ceil(len(data) / self.workers))
        total = 0
        started = time.perf_counter()
        try:
            with ProcessPoolExecutor(self.workers, mp_context=self._context()) as pool:
                futures = [
                    pool.submit(_run_chunk, self, chunk_id, chunk)
                    for chunk_id, chunk in enumerate(chunks(data, chunk_size))
                ]
                for future in futures:
                    count, pairs = future.result()
                    for key, value in pairs or ():
                        self.delegate.dump(key, value)
                    total += count
        except Exception as exc:
            # The delegate was empty before this run: drop partial results so the next call
            # computes everything instead of trusting an incomplete delegate.
            self.delegate.clear()
            raise PersistableError(
                f"{type(self).__name__}: a worker process failed ({type(exc).__name__}: "
                f"{exc}); partial results were removed. Fix the error and access the stash "
                "again to recompute."
            ) from exc
        logger.info(
            "%s: %d values from %d workers in %.2fs",
            type(self).__name__,
            total,
            self.workers,
            time.perf_counter() - started,
        )
        return total

    def prime(self) -> None:
        """Run the work in worker processes when the delegate has no data."""
        if self.is_child:
            return
        super().prime()
        if not self.has_data:
            try:
                self._spawn_work()
            finally:
                self._reset_has_data()
