"""The warnings a cell issued, seen without changing what the warnings do (``_warned``)."""

from __future__ import annotations

import warnings

import numpy as np

from persist_ext.features._cellcache._warned import (
    MAX_DISTINCT,
    stale_warnings,
    warning_checks,
    watch_warnings,
)


def test_the_watch_sees_python_and_c_warnings_and_leaves_the_filters_as_they_were() -> None:
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("always", RuntimeWarning)
        before = list(warnings.filters)
        held = warnings.filters
        with watch_warnings() as watch:
            warnings.warn("hidden", UserWarning, stacklevel=1)
            np.float64(1.0) / np.float64(0.0)
        assert warnings.filters is held
        assert list(warnings.filters) == before
        # The watch decided nothing: the ignored one is not shown, the other is.
        assert [str(w.message) for w in shown] == ["divide by zero encountered in scalar divide"]
    texts = {text for _mro, text, _module in watch.seen}
    assert texts == {"hidden", "divide by zero encountered in scalar divide"}
    assert not watch.overflow


def test_filters_the_cell_adds_come_first_and_the_watch_is_removed_from_wherever_it_is() -> None:
    with warnings.catch_warnings():
        with watch_warnings() as watch:
            warnings.simplefilter("error", UserWarning)  # in front of the watch
            try:
                warnings.warn("own", UserWarning, stacklevel=1)
            except UserWarning:
                pass
            ctx = warnings.catch_warnings()
            ctx.__enter__()  # entered and never left: the module holds a copy
            warnings.warn("other", DeprecationWarning, stacklevel=1)
        assert {t for _m, t, _mod in watch.seen} == {"other"}
        assert not any(type(f[2]).__name__ == "_Category" for f in warnings.filters)
        ctx.__exit__(None, None, None)
        assert not any(type(f[2]).__name__ == "_Category" for f in warnings.filters)


def test_filters_copied_and_put_back_as_scikit_learn_does_keep_working() -> None:
    # scikit-learn's Parallel re-installs warnings.filters around each job, reading a
    # non-str message or module as a compiled pattern's ``.pattern``: a cell calling
    # cross_val_score raised AttributeError under %%persist only.
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always", UserWarning)
        with watch_warnings() as watch:
            copied = list(warnings.filters)
            with warnings.catch_warnings():
                warnings.resetwarnings()
                keys = ["action", "message", "category", "module", "lineno"]
                for entry in copied:
                    args = {k: v for k, v in zip(keys, entry) if v is not None}
                    if "message" not in args and "module" not in args:
                        warnings.simplefilter(**args, append=True)
                        continue
                    for key in ("message", "module"):
                        if key in args and not isinstance(args[key], str):
                            args[key] = args[key].pattern
                    warnings.filterwarnings(**args, append=True)
                warnings.warn("inside the job", UserWarning, stacklevel=1)
            warnings.warn("after the job", UserWarning, stacklevel=1)
    assert [str(w.message) for w in shown] == ["inside the job", "after the job"]
    assert "after the job" in {text for _mro, text, _module in watch.seen}


def test_checks_change_only_when_the_filters_decide_otherwise_for_the_warnings_seen() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with watch_warnings() as watch:
            warnings.warn("careful", UserWarning, stacklevel=1)
        checks = warning_checks(watch, list(warnings.filters))
        assert len(checks) == 1
        assert stale_warnings(checks) == []
        warnings.simplefilter("error", DeprecationWarning)  # another category: no matter
        assert stale_warnings(checks) == []
        warnings.filterwarnings("error", "careful", UserWarning)
        ((_component, category, text),) = stale_warnings(checks)
        assert (category, text) == ("UserWarning", "careful")


def test_default_and_always_differ_for_a_warning_seen_once() -> None:
    # Repeats of a warning shown under "default" never reach the filters: how often the
    # cell issued it is not known, so "always" (shown every time) is another outcome.
    with warnings.catch_warnings():
        warnings.simplefilter("default", UserWarning)
        with watch_warnings() as watch, warnings.catch_warnings(record=True):
            for _ in range(2):
                warnings.warn("two", UserWarning, stacklevel=1)
        assert len(watch.seen) == 1
        checks = warning_checks(watch, list(warnings.filters))
        warnings.simplefilter("always", UserWarning)
        assert [c[2] for c in stale_warnings(checks)] == ["two"]


def test_too_many_distinct_warnings_overflow_to_the_whole_filter_list() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with watch_warnings() as watch:
            for i in range(MAX_DISTINCT + 1):
                warnings.warn(f"number {i}", UserWarning, stacklevel=1)
    assert watch.overflow
    assert warning_checks(watch, []) == {}


def test_inside_a_persist_cell_the_filter_list_holds_the_watch_and_only_then(ip) -> None:
    # docs/cell-cache.md: code in a running %%persist cell that reads warnings.filters sees
    # one more entry, the watch, at its front; before and after the cell it is not there.
    ip.run_cell("import warnings\nplain = len(warnings.filters)")
    ip.run_cell("%%persist\ninside = len(warnings.filters)\nfirst = repr(warnings.filters[0])")
    ip.run_cell("after = len(warnings.filters)")
    assert ip.user_ns["inside"] == ip.user_ns["plain"] + 1 == ip.user_ns["after"] + 1
    assert "_warned" in ip.user_ns["first"]
