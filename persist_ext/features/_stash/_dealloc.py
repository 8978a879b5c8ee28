"""Deterministic release of resources: :class:`Deallocatable` and the :class:`dealloc` block.

Part of the method-caching API (seed ``zensols.persist``): :class:`~persist_ext.PersistedWork`
and :class:`~persist_ext.PersistableContainer` are deallocatable.
"""

from __future__ import annotations

import io
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar

from ..._errors import PersistableError

__all__ = ["Deallocatable", "dealloc"]


class Deallocatable:
    """Something that can release its resources now, instead of when garbage collected.

    Useful with reference cycles or resources (GPU memory, open files) that must go early.
    With ``Deallocatable.ALLOCATION_TRACKING = True`` every new instance is recorded in
    ``_ALLOCATIONS`` (with its creation stack) until :meth:`deallocate` runs, which makes
    leaks visible: ``Deallocatable._num_deallocations()`` counts the instances still
    allocated, ``_print_undeallocated()`` lists them.

    Examples
    --------
    >>> class Resource(Deallocatable):
    ...     pass
    >>> with dealloc(Resource, track=True) as res:
    ...     Deallocatable._num_deallocations()
    1
    >>> Deallocatable._num_deallocations()
    0
    """

    PRINT_TRACE: ClassVar[bool] = False
    ALLOCATION_TRACKING: ClassVar[bool] = False
    _ALLOCATIONS: ClassVar[dict[int, tuple[Any, str]]] = {}
    _RECURSIVE: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        if Deallocatable.ALLOCATION_TRACKING:
            stack = io.StringIO()
            traceback.print_stack(file=stack)
            Deallocatable._ALLOCATIONS[id(self)] = (self, stack.getvalue())

    def deallocate(self) -> None:
        """Release this instance's resources (subclasses extend this and call super)."""
        if self.PRINT_TRACE:
            traceback.print_stack()
        self._mark_deallocated()

    @classmethod
    def _num_deallocations(cls) -> int:
        """The number of tracked instances not yet deallocated."""
        return len(Deallocatable._ALLOCATIONS)

    def _mark_deallocated(self, obj: Any = None) -> None:
        """Stop tracking ``obj`` (an id, default this instance) whether or not it was freed."""
        key = id(self) if obj is None else obj
        Deallocatable._ALLOCATIONS.pop(key, None)

    @staticmethod
    def _try_deallocate(obj: Any, recursive: bool = False) -> bool:
        """Deallocate ``obj`` if it is :class:`Deallocatable` (or, recursively, a container of
        them); return whether anything was deallocated."""
        recursive = recursive or Deallocatable._RECURSIVE
        if isinstance(obj, Deallocatable):
            obj.deallocate()
            return True
        if recursive and isinstance(obj, (tuple, list, set, frozenset)):
            for item in obj:
                Deallocatable._try_deallocate(item, recursive)
            return True
        if recursive and isinstance(obj, dict):
            for item in obj.values():
                Deallocatable._try_deallocate(item, recursive)
            return True
        return False

    def _deallocate_attribute(self, attrib: str) -> bool:
        """Deallocate and delete attribute ``attrib`` if present."""
        if not hasattr(self, attrib):
            return False
        done = self._try_deallocate(getattr(self, attrib))
        delattr(self, attrib)
        return done

    def _deallocate_attributes(self, attribs: tuple[str, ...]) -> int:
        """:meth:`_deallocate_attribute` for each name; return how many were deallocated."""
        return sum(1 for attrib in attribs if self._deallocate_attribute(attrib))

    @classmethod
    def _print_undeallocated(cls, include_stack: bool = False, only_counts: bool = False) -> None:
        """Print the tracked instances not yet deallocated (a debugging aid)."""
        allocations = Deallocatable._ALLOCATIONS
        if allocations:
            print(f"total allocations: {len(allocations)}")
        if only_counts:
            counts = Counter(type(obj).__qualname__ for obj, _ in allocations.values())
            for name, count in sorted(counts.items()):
                print(f"{name}: {count}")
            return
        for key, (obj, stack) in allocations.items():
            print(f"{key} -> {type(obj)}")
            if include_stack:
                print(stack)

    @classmethod
    def _deallocate_all(cls) -> None:
        """Deallocate every tracked instance."""
        pending = tuple(Deallocatable._ALLOCATIONS.values())
        Deallocatable._ALLOCATIONS.clear()
        for obj, _ in pending:
            obj.deallocate()

    @classmethod
    def assert_dealloc(cls) -> None:
        """Raise :class:`PersistableError` if tracked instances were not deallocated."""
        count = len(Deallocatable._ALLOCATIONS)
        if count:
            raise PersistableError(
                f"Resource leak: {count} instances were not deallocated; call deallocate() "
                "on them or use `with dealloc(obj):`."
            )


class dealloc:  # lower case: the seed's name
    """Context manager that deallocates an object when the block ends.

    ``inst`` is a :class:`Deallocatable` or a callable creating one (so that, with
    ``track=True``, its allocation is tracked too). With ``track=True`` allocation tracking
    is on inside the block and instances left allocated are printed at the end.

    Examples
    --------
    >>> class Model(Deallocatable):
    ...     def deallocate(self):
    ...         super().deallocate()
    ...         print("freed")
    >>> with dealloc(Model()) as model:
    ...     pass
    freed
    """

    def __init__(
        self,
        inst: Deallocatable | Callable[[], Deallocatable],
        track: bool = False,
        include_stack: bool = False,
    ) -> None:
        self.track = track
        self.include_stack = include_stack
        self._previous_tracking = Deallocatable.ALLOCATION_TRACKING
        if track:
            Deallocatable.ALLOCATION_TRACKING = True
        try:
            self.inst = inst() if callable(inst) and not isinstance(inst, Deallocatable) else inst
        except BaseException:
            Deallocatable.ALLOCATION_TRACKING = self._previous_tracking
            raise

    def __enter__(self) -> Any:
        return self.inst

    def __exit__(self, *exc: object) -> None:
        try:
            self.inst.deallocate()
            if self.track:
                Deallocatable._print_undeallocated(self.include_stack)
        finally:
            Deallocatable.ALLOCATION_TRACKING = self._previous_tracking
