"""Storing or fingerprinting a value never changes it, whatever its ``__getstate__`` does."""

from __future__ import annotations

import numpy as np

from persist_ext.features._checkpoint._pack import pack_group, unpack_group
from persist_ext.features._covars import group_variables, load_groups, save_groups
from persist_ext.storage._fingerprint import fingerprint
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._reduction import pickle_reduction, reduce_untouched


def _report(value: object) -> None:
    """A module-level function: picklable by name, like a library's method."""


class SelfClearing:
    """As statsmodels' discrete-model results do: ``__getstate__`` drops, on the object
    itself, what it would rather not pickle, and returns its own ``__dict__``."""

    def __init__(self) -> None:
        self.settings = {"callback": _report, "tol": 1e-8}
        self.cache = [1, 2]
        self.scratch = "kept"

    def __getstate__(self) -> dict:
        self.settings["callback"] = None
        self.cache = None
        del self.scratch
        return self.__dict__


def _untouched(value: SelfClearing) -> bool:
    return (
        value.settings == {"callback": _report, "tol": 1e-8}
        and list(value.settings) == ["callback", "tol"]
        and value.cache == [1, 2]
        and value.scratch == "kept"
        and list(vars(value)) == ["settings", "cache", "scratch"]
    )


def test_a_reduction_puts_back_what_getstate_changed() -> None:
    value = SelfClearing()
    state = reduce_untouched(value)[2]
    assert _untouched(value)
    assert state is vars(value)  # pickle then writes the object as it is


def test_only_classes_reducing_in_python_code_are_reduced_here() -> None:
    assert pickle_reduction(SelfClearing()) is not NotImplemented
    assert pickle_reduction(np.arange(3)) is NotImplemented  # numpy's reduction is C code
    assert pickle_reduction(SelfClearing) is NotImplemented  # a class: pickled by name
    assert pickle_reduction(1 + 2j) is NotImplemented  # copyreg has a reducer for complex


def test_fingerprinting_leaves_the_value_as_it_was() -> None:
    value = SelfClearing()
    first = fingerprint(value)
    assert _untouched(value)
    assert fingerprint(value) == first  # and the digest is its own, every time


def test_storing_leaves_the_value_and_loads_it_whole() -> None:
    value = SelfClearing()
    store = MemoryStore()
    values = {"value": value}
    saved = save_groups(store, "t/", values, group_variables(values))
    assert not saved.failures
    assert _untouched(value)
    assert _untouched(load_groups(store, saved.keys)["value"])


def test_a_checkpoint_leaves_the_value_as_it_was() -> None:
    value = SelfClearing()
    packed = pack_group({"value": value}, {"value": value})
    assert _untouched(value)
    assert _untouched(unpack_group(packed.value(), {})["value"])


def test_statsmodels_results_keep_their_callback_when_stored() -> None:
    import statsmodels.api as sm  # a test dependency: never skipped

    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = (x + rng.normal(size=200) > 0).astype(float)
    results = sm.Logit(y, sm.add_constant(x)).fit(disp=False)
    store = MemoryStore()
    values = {"results": results}
    saved = save_groups(store, "t/", values, group_variables(values))
    assert not saved.failures
    assert results.mle_settings["callback"] == results.model._check_perfect_pred
    loaded = load_groups(store, saved.keys)["results"]
    assert loaded.mle_settings["callback"] == loaded.model._check_perfect_pred
    np.testing.assert_array_equal(loaded.params, results.params)


def test_a_scipy_distribution_loads_with_its_attributes_in_their_order() -> None:
    # scipy's __setstate__ attaches the argument parsers after the state: vars() listed
    # them last, where the original has them in the middle.
    from scipy.stats import norm

    dist = norm(2, 0.2)
    store = MemoryStore()
    values = {"dist": dist}
    saved = save_groups(store, "t/", values, group_variables(values))
    assert not saved.failures
    loaded = load_groups(store, saved.keys)["dist"]
    assert list(vars(loaded.dist)) == list(vars(dist.dist))
    assert loaded.cdf(2.1) == dist.cdf(2.1)
    packed = pack_group({"dist": dist}, {"dist": dist})
    assert list(vars(unpack_group(packed.value(), {})["dist"].dist)) == list(vars(dist.dist))


def test_fingerprints_do_not_depend_on_the_order_kept() -> None:
    from scipy.stats import norm

    assert pickle_reduction(norm(2, 0.2).dist, keep_order=True)[5] is not None
    assert fingerprint(norm(2, 0.2)) == fingerprint(norm(2, 0.2))
    # A restored distribution fingerprints as the one the cell made (a later cell reading it
    # hits), its attributes being in the same order again.
    dist = norm(2, 0.2)
    store = MemoryStore()
    saved = save_groups(store, "t/", {"dist": dist}, group_variables({"dist": dist}))
    assert fingerprint(load_groups(store, saved.keys)["dist"]) == fingerprint(dist)


def test_a_bunch_loads_with_the_attributes_its_setstate_ignores() -> None:
    # scikit-learn's Bunch.__setstate__ does nothing: load_digits() came back without the
    # "_deprecated_key_to_warnings" it keeps in __dict__ (a later cell reading it missed,
    # "input digits changed", and a deprecated key no longer warned).
    from sklearn.datasets import load_digits

    digits = load_digits()
    assert vars(digits)  # what a plain run's object holds
    store = MemoryStore()
    saved = save_groups(store, "t/", {"digits": digits}, group_variables({"digits": digits}))
    assert not saved.failures
    loaded = load_groups(store, saved.keys)["digits"]
    assert vars(loaded) == vars(digits)
    assert sorted(loaded) == sorted(digits)
    np.testing.assert_array_equal(loaded.data, digits.data)
    assert fingerprint(loaded) == fingerprint(digits)
