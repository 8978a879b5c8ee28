"""Benchmarks for persist_ext (not part of the test suite). Run: ``python -m benchmarks``.

Convention for a benchmark module (so each helper can add one without touching the runner):

* name it ``benchmarks/bench_<topic>.py``; the runner imports every such module, sorted;
* expose ``run(**kwargs) -> list[dict]``: one row per measurement,
  ``{"name": str, "value": float, "unit": str}``. Ratios are rows with ``unit="ratio"``
  whose name states the target, e.g. ``"Store.set / np.save time (target <= 1.25)"``.
  Compare against baselines measured in the same run on the same data, never against
  numbers from another machine;
* optionally expose ``QUICK: dict``, the keyword arguments ``run`` gets under ``--quick``
  (small sizes for a smoke run); without it, ``--quick`` runs the defaults;
* keep a ``main()`` for running the module alone (``python -m benchmarks.bench_<topic>``).

The runner first measures the machine itself (:mod:`benchmarks._machine`: plain-file write
and read bandwidth, numpy memory copy bandwidth), so every table shows the floor the
library is compared with. ``python -m benchmarks --quick bench_store`` runs one module.
"""
