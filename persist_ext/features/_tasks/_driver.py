"""The driver: submits a run's tries, collects outcomes, retries, and records them in batches.

Workers report to one queue (running records from threads in this process; finished
futures from any executor). The driver thread drains it, waits at most ``flush_interval``
seconds after the previous write so reports pile up, and hands the whole batch to
:meth:`GroupState.record <._state.GroupState.record>`: one store transaction with every
record, small result and settled leaf. This is what keeps bookkeeping at tens of
microseconds per task instead of ~1 ms.

On threads the driver creates no ``Future`` per try: a few *feeder* jobs (at most one per
thread of the pool) take tries from one deque and report each outcome straight to the
queue (:meth:`Driver._feed`), which halves the cost of a no-op task; a try not started yet
is still cancelled by taking it off the deque. Other executors get one future per try (a
process or a Dask worker that dies must fail only its own try); a Dask client gets a run's
first tries in one ``client.map`` (one message to the scheduler instead of one per try).

Each submitted call is one try. A failed try — the task raised, overran its timeout, or
killed its worker process — is retried while :func:`~._model.is_settled` says it is not
settled (tries left), and recorded failed otherwise.

A try that overran its timeout on a Dask worker (with a nanny) comes back naming that
worker; the driver restarts it in a helper thread (:func:`~._dask.restart_worker`) to stop
the function, and the run waits for those restarts (bounded) before it completes.

Durability: a task's completion reaches the store at most ``flush_interval`` plus one write
after it ended. A crash inside that window loses it, and a resume runs that task again
(at-least-once for those few tasks); nothing written is ever lost or run again.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import queue
import threading
import time
import traceback as _traceback
import uuid
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError, Future
from typing import Any

from ..._errors import TaskTimeoutError, WorkerDiedError, WorkerRestartWarning
from ..._threads import HousekeepingThread
from ._capture import routers_held
from ._dask import HungWorker, restart_worker
from ._executors import ExecutorChoice
from ._journal import inline_value
from ._model import is_settled
from ._state import Batch, Definition, GroupState, Scheduled
from ._storespec import StoreSpec
from ._worker import (
    TaskCall,
    TaskOutcome,
    failed_record,
    register_sink,
    run_task,
    running_record,
    unregister_sink,
)

__all__ = ["Driver"]

_RUNNING, _DONE, _STOP = 0, 1, 2
_CANCELLED = object()  # the outcome of a try taken off the deque before it started
_MAX_FEEDERS = 32  # feeders on a borrowed thread pool, whose size we do not know
# Failures of the machinery around one try (not of the task's code): each counts as one try.
_DEATHS = ("WorkerDiedError", "TaskTimeoutError", "BrokenProcessPool", "KilledWorker")


class Driver:
    """One run's submit-collect-record loop (see the module docstring)."""

    def __init__(
        self,
        state: GroupState,
        choice: ExecutorChoice,
        definitions: Mapping[str, Definition],
        spec: StoreSpec,
        *,
        flush_interval: float,
        capture: bool,
        timeout: float | None,
        on_complete: Callable[[Any], Any] | None,
    ) -> None:
        self.state = state
        self.choice = choice
        self.definitions = definitions
        self.spec = spec
        self.flush_interval = flush_interval
        self.capture = capture
        # Our process pool kills an overrunning worker itself; elsewhere the worker
        # abandons the try (run_task).
        self.timeout = None if choice.kills_on_timeout else timeout
        # A Dask worker left running a hung try is restarted (needs the Client).
        self.stop_hung = choice.client is not None and self.timeout is not None
        self._restarts: list[threading.Thread] = []
        self._restarting: set[str] = set()
        self.on_complete = on_complete
        self.queue: queue.SimpleQueue[tuple[int, Any, Any]] = queue.SimpleQueue()
        self.token = uuid.uuid4().hex
        # Tries not come back yet; a finished one is dropped at once (a Dask future held
        # here would keep its result, and a hung try's key, on the cluster).
        self._futures: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._last = 0.0
        self.stopped = False
        self._halted = False
        # Tries submitted and not come back (instance -> call), and among them those a
        # worker in this process started (instance -> (call, start time)): what an
        # interrupted run records as interrupted.
        self._outstanding: dict[str, Future[Any]] = {}
        self._inflight: dict[str, tuple[TaskCall, float]] = {}
        # Threads: tries waiting for a feeder, the feeders alive (started or queued in
        # the pool), and the tries feeders have taken and not reported yet.
        self._feeding = choice.kind == "threads"
        self._calls: collections.deque[TaskCall] = collections.deque()
        self._feeders = 0
        self._max_feeders = choice.slots or _MAX_FEEDERS
        self._taken: dict[str, TaskCall] = {}
        self._interrupting = False
        #: When the last try came back (``time.monotonic()``); close() measures progress.
        self.last_progress = time.monotonic()
        #: Instances still running when the run was interrupted (see :meth:`interrupt`).
        self.interrupted: list[str] = []

    # -- the Sink protocol (called from worker threads) ---------------------------------------

    def running(self, call: TaskCall, started: float) -> None:
        """A worker in this process started a try: write it with the next batch (unless
        the try ends before that batch is written: then only its outcome is)."""
        self.queue.put((_RUNNING, call, started))

    def settled_elsewhere(self, name: str) -> bool:
        """True when the instance was skipped or abandoned after it was scheduled."""
        return self.state.set_aside(name)

    # -- the loop ------------------------------------------------------------------------------

    def cancel(self) -> int:
        """Cancel tries not started yet (they stay scheduled); returns how many. Never blocks."""
        n = 0
        while True:  # threads: what no feeder has taken yet (popleft is atomic)
            try:
                call = self._calls.popleft()
            except IndexError:
                break
            self.queue.put((_DONE, call, _CANCELLED))
            n += 1
        with self._lock:
            futures = list(self._futures)
        return n + sum(1 for f in futures if f.cancel())

    def stop(self) -> None:
        """Retry nothing more in this run (``close(timeout=)``); failed tries stay resumable."""
        self.stopped = True

    def interrupt(self) -> None:
        """End the run now without waiting for the tries still running (``close()``).

        Tries not started are cancelled (they stay scheduled). The driver records what
        came back so far, records every try still running as interrupted — status
        ``running``, its try counted — so the next ``run()`` runs it again, and returns
        without firing the callback. Outcomes arriving later are not recorded. Never blocks.
        """
        self.stopped = True
        self._interrupting = True  # feeders start nothing more
        # The marker first: cancellations (which Dask reports for running tries too) come
        # after it, so they never look like the end of the run.
        self.queue.put((_STOP, None, None))
        self.cancel()

    def _submit(self, call: TaskCall) -> None:
        if self._feeding:
            self._calls.append(call)
            self._add_feeder()
            return
        try:
            future = self.choice.executor.submit(run_task, call)
        except Exception as exc:  # e.g. the executor was shut down: record, don't lose
            self.queue.put((_DONE, call, exc))
            return
        self._futures.add(future)  # atomic under the GIL; cancel() copies the set
        self._outstanding[call.instance] = future
        future.add_done_callback(functools.partial(self._finished, call))

    def _submit_mapped(self, calls: list[TaskCall]) -> None:
        """Submit ``calls`` to the Dask client in one ``map`` (else one by one)."""
        if self.stopped:  # interrupted while submitting: they stay scheduled
            for call in calls:
                self.queue.put((_DONE, call, _CANCELLED))
            return
        try:
            futures = self.choice.client.map(run_task, calls, pure=False)
        except Exception:  # e.g. a client that cannot map: the executor's submit decides
            for call in calls:
                self._submit(call)
            return
        for call, future in zip(calls, futures, strict=True):
            self._futures.add(future)
            self._outstanding[call.instance] = future
            future.add_done_callback(functools.partial(self._finished, call))

    def _start_feeders(self) -> None:
        """Start feeders for the tries on the deque: one per try not ended, at most one per
        pool thread. Counting the deque alone would be wrong: a feeder may already have
        taken a try that waits for another one still on the deque (two tasks meeting at a
        barrier), and only a second feeder runs that one."""
        if not self._feeding:
            return
        while self._calls and self._feeders < min(self._max_feeders, self.pending):
            before = self._feeders
            self._add_feeder()
            if self._feeders <= before:
                return  # the executor refused (the deque was emptied) or at the maximum

    def _add_feeder(self) -> None:
        """Start one more feeder unless the pool has one per thread already."""
        with self._lock:
            if self._feeders >= self._max_feeders:
                return
            self._feeders += 1
        try:
            future = self.choice.executor.submit(self._feed)
        except Exception as exc:  # e.g. the executor was shut down
            self._feeder_gone(exc)
            return
        future.add_done_callback(self._feeder_ended)

    def _feeder_ended(self, future: Future[Any]) -> None:
        # A feeder that ran has counted itself out; one cancelled before it started (the
        # pool was shut down with cancel_futures) has not.
        if future.cancelled():
            self._feeder_gone(_CANCELLED)

    def _feeder_gone(self, why: Any) -> None:
        """A feeder that never ran: if none is left, no try waiting on the deque can run;
        each is reported with ``why`` (an executor refusal, or a cancellation)."""
        with self._lock:
            self._feeders -= 1
            if self._feeders > 0:
                return
        while True:
            try:
                call = self._calls.popleft()
            except IndexError:
                return
            self.queue.put((_DONE, call, why))

    def _feed(self) -> None:
        """A feeder (in a pool thread): run tries from the deque until it is empty."""
        calls, put, taken = self._calls, self.queue.put, self._taken
        while True:
            try:
                call = calls.popleft()
            except IndexError:
                with self._lock:
                    if calls:  # a retry came in after popleft found none
                        continue
                    self._feeders -= 1
                    return
            if self._interrupting:  # close() interrupted the run: it stays scheduled
                put((_DONE, call, _CANCELLED))
                continue
            taken[call.instance] = call
            try:
                done: Any = run_task(call)
            except BaseException as exc:  # what a pool would put in the try's future
                done = exc
            put((_DONE, call, done))
            taken.pop(call.instance, None)

    def _finished(self, call: Any, future: Any) -> None:
        self._futures.discard(future)
        self.queue.put((_DONE, call, future))

    def run(self, scheduled: list[Scheduled]) -> None:
        """Submit every scheduled instance, record outcomes and retries until all ended,
        then fire the completion callback. ``scheduled`` is emptied once all are submitted."""
        register_sink(self.token, self)
        self.pending = 0
        # Tasks on threads print through routers installed once for the run, not per try.
        held = routers_held() if self.capture else contextlib.nullcontext()
        try:
            held.__enter__()
            spec, group, capture, timeout, token, stop_hung = (
                self.spec,
                self.state.name,
                self.capture,
                self.timeout,
                self.token,
                self.stop_hung,
            )
            definitions = self.definitions
            # Threads: tries go on the deque and feeders start every 256 of them (a
            # feeder per try would find the deque empty, leave, and be started again).
            # A Dask client: the first tries are sent in one client.map (one message to
            # the scheduler instead of one per try); retries go one by one.
            to_map: list[TaskCall] = []
            mapped = self.choice.client is not None
            submit = (
                self._calls.append if self._feeding else to_map.append if mapped else self._submit
            )
            for n, item in enumerate(scheduled, 1):
                if self.stopped:
                    break  # interrupted while submitting: the rest stays scheduled
                definition = definitions[item.task]
                submit(
                    TaskCall(
                        spec,
                        group,
                        item.task,
                        item.instance,
                        definition.fn,
                        definition.args,
                        definition.kwargs,
                        item.record,
                        token,
                        capture,
                        timeout,
                        stop_hung,
                    )
                )
                self.pending += 1
                if n % 256 == 0:
                    if n == 256:
                        # Feeders start once the first tries wait; the rest join the deque
                        # behind them. Feeders that empty the deque leave and are started
                        # again below, once: restarting them every 256 tries (a future and
                        # a thread wake-up each) cost hundreds of restarts per 10,000 tries.
                        self._start_feeders()
                    # Submitting 10,000 calls takes a while: keep writing meanwhile, so
                    # the flush delay holds from the first task on.
                    if time.monotonic() - self._last >= self.flush_interval:
                        self._flush(None)
            # Every try is a TaskCall now: let the run's 10,000 Scheduled go (the cyclic
            # collector would walk them on every full pass until the run ends).
            scheduled.clear()
            if to_map:
                self._submit_mapped(to_map)
                to_map = []
            self._start_feeders()
            while self.pending and not self._halted:
                first = self.queue.get()
                wait = self._last + self.flush_interval - time.monotonic()
                if wait > 0 and first[0] != _STOP:
                    time.sleep(wait)  # let the batch grow
                self._flush(first)
                # Hold no finished future while waiting: a Dask future keeps its key (and
                # result) on the cluster.
                first = None  # type: ignore[assignment]
            if self._halted:
                self._record_interrupted()
        finally:
            unregister_sink(self.token)
            held.__exit__(None, None, None)
            with self._lock:
                self._futures = set()
        for thread in self._restarts:
            thread.join()  # bounded: restart_worker gives up after about a minute
        if not self._halted:
            self.state.fire(self.on_complete)

    def _restart(self, hung: HungWorker) -> None:
        """Restart the Dask worker running a hung try, in a helper thread (it takes seconds)."""
        if hung.address in self._restarting:
            return  # another hung try on the same worker: one restart stops both
        self._restarting.add(hung.address)

        def restart() -> None:
            try:
                problem = restart_worker(self.choice.client, hung)
            finally:
                self._restarting.discard(hung.address)
            if problem:
                warnings.warn(
                    f"{problem}; the task that overran its timeout there is recorded failed, "
                    "but its function may still be running on that worker.",
                    WorkerRestartWarning,
                    stacklevel=1,
                )

        thread = HousekeepingThread(target=restart, name="persist-ext-dask-restart")
        self._restarts.append(thread)
        thread.start()

    def _record_interrupted(self) -> None:
        # Workers in other processes wrote their running record before starting; ours
        # may not be written yet.
        self.cancel()  # a try submitted after interrupt() began
        # A try started in this process is running (an executor such as Dask may have
        # accepted its cancellation anyway); another one is running unless cancelled.
        self.interrupted = sorted(
            set(self._inflight)
            | set(self._taken)
            | {n for n, f in self._outstanding.items() if not f.cancelled()}
        )
        batch = Batch()
        for name, (call, started) in self._inflight.items():
            if not self.state.set_aside(name):
                batch.records[name] = running_record(call, started)
        if batch.records:
            self.state.record(batch)

    def _flush(self, first: tuple[int, Any, Any] | None) -> None:
        """Record everything queued (after ``first``)."""
        items = [] if first is None else [first]
        while True:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        self._last = time.monotonic()
        if items:
            self._record(items)

    def _outcome(self, call: TaskCall, done: Any) -> TaskOutcome | None:
        if type(done) is TaskOutcome:  # reported by a feeder
            return done
        if done is _CANCELLED:
            return None  # cancel(): stays scheduled, runs on the next run()
        if isinstance(done, BaseException):
            return self._failure(call, done)
        try:
            return done.result()
        except CancelledError:
            return None  # cancel(): stays scheduled, runs on the next run()
        except BaseException as exc:
            return self._failure(call, exc)

    def _failure(self, call: TaskCall, exc: BaseException) -> TaskOutcome:
        """The try did not come back: its worker died or overran, or it could not be run."""
        record = dict(call.record)
        now = time.time()
        kind = type(exc).__name__
        if kind in _DEATHS or isinstance(exc, (WorkerDiedError, TaskTimeoutError)):
            record["tries"] = int(record.get("tries", 0)) + 1  # the try that was running
            record["started"] = record.get("started") or now
            what = "timed out" if isinstance(exc, TaskTimeoutError) else "lost its worker"
            message = f"{kind}: task {call.task!r} ({call.instance}) {what}: {exc}"
        else:
            # The executor could not run it at all (e.g. an argument it cannot send):
            # trying again would fail the same way, so every try is used.
            record["tries"] = max(int(record.get("tries", 0)), self.state.max_tries)
            message = (
                f"task {call.task!r} ({call.instance}) could not be run by the executor: "
                f"{kind}: {exc}"
            )
        record["ended"] = now
        trace = "".join(_traceback.format_exception(exc))
        return TaskOutcome(failed_record(record, message, trace), None, False, now)

    def _record(self, items: list[tuple[int, Any, Any]]) -> None:
        state = self.state
        batch = Batch()
        retries: list[TaskCall] = []
        combines = state.tree.combines
        running: dict[str, tuple[TaskCall, float]] = {}
        inflight, outstanding = self._inflight, self._outstanding
        pending_before = self.pending
        for kind, first, second in items:
            if kind == _STOP or self._halted:
                self._halted = True  # interrupted: what comes back from now on is not recorded
                continue
            call: TaskCall = first
            if kind == _RUNNING:
                running[call.instance] = inflight[call.instance] = (call, second)
                continue
            self.pending -= 1
            running.pop(call.instance, None)  # ended in this batch: only the outcome counts
            inflight.pop(call.instance, None)
            outstanding.pop(call.instance, None)
            outcome = self._outcome(call, second)
            if outcome is None or outcome.record is None or state.set_aside(call.instance):
                batch.records.pop(call.instance, None)
                continue
            record = outcome.record
            if outcome.hung is not None:
                self._restart(outcome.hung)
            batch.records[call.instance] = record
            if outcome.ok:
                if inline_value(outcome.value):
                    batch.values[call.instance] = outcome.value
                else:
                    batch.large[call.instance] = outcome.value
                if combines:
                    batch.results[call.task] = outcome.value
            elif not is_settled(record["status"], record["tries"], state.max_tries):
                if not self.stopped:
                    retries.append(_retry(call, record))
                continue
            batch.settled[call.task] = call.instance
        for name, (call, started) in running.items():
            if not state.set_aside(name):
                batch.records[name] = running_record(call, started)
        if self.pending != pending_before:
            self.last_progress = time.monotonic()
        completed = state.record(batch) if batch.records else False
        for call in retries:
            self._submit(call)
            self.pending += 1
        if completed:
            state.fire(self.on_complete)


def _retry(call: TaskCall, record: dict[str, Any]) -> TaskCall:
    # A new object per try: the one of the failed try may still be queued.
    return TaskCall(
        call.spec,
        call.group,
        call.task,
        call.instance,
        call.fn,
        call.args,
        call.kwargs,
        record,
        call.sink,
        call.capture,
        call.timeout,
        call.stop_hung,
    )
