"""``python -m benchmarks.corpus``: real public notebooks, plain and with ``%%persist`` on every cell.

Each notebook of :data:`CORPUS` (public repositories at pinned commits) is read from a git
directory (``--mirror``: a folder holding ``owner+name/repo`` bare clones, or ``owner+name``
clones; missing ones are cloned from GitHub into ``--scratch``), stripped of the cells that need
the network, a shell or a stopwatch (``!cmd``, ``%timeit``, downloads), and run in a fresh
kernel in a scratch folder (with the repository's data files beside it), six times:

1. plain, twice, the second in the first one's folder as the warm run is in the cold one's
   (what differs between the two plain runs is nondeterministic and left out of every
   comparison: unseeded random numbers, timings, addresses); when a cached run differs
   where they agree, a third plain run, and what differs between it and the first is
   listed as nondeterministic (two runs can agree by chance);
2. ``%%persist`` on every cell, cold (empty store), then warm (fresh kernel, same store);
3. one early integer literal edited (+1), plain and under ``%%persist`` (same store as 2);
   when they differ, the edited notebook is run plain once more (what differs between the
   two edited plain runs is nondeterministic).

After the last cell a probe prints a fingerprint of the namespace (every variable's value,
with exact equality for numpy arrays and pandas objects; which names are the same object, which
arrays share memory, which objects hold another variable; whether instances of notebook
classes are instances of the live class) and of global state (RNG states, rcParams, pandas
options, display precision, cwd, ``sys.path``, environment, open figures). A *silent difference*
is a cell output or a probed value of a run under ``%%persist`` that differs from the plain run
of the same code while the two plain runs agree. A *new failure* is a cell that raises only
under ``%%persist``; a *hang* is a run that exceeds ``--timeout`` or whose kernel dies.

Nothing here is part of the test suite: the notebooks are fetched, never committed, and the
times are those of a shared machine. ``benchmarks/README.md`` has the numbers of the last run.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# (repository, pinned commit, folder of the notebooks, data copied beside them (paths separated
# by spaces), notebooks)
CORPUS: list[tuple[str, str, str, str, list[str]]] = [
    (
        "jakevdp/PythonDataScienceHandbook",
        "d66231454ef753818dc9213c9b5942e067266966",
        "notebooks",
        "notebooks/data",
        [
            "02.01-Understanding-Data-Types.ipynb",
            "02.02-The-Basics-Of-NumPy-Arrays.ipynb",
            "02.03-Computation-on-arrays-ufuncs.ipynb",
            "02.04-Computation-on-arrays-aggregates.ipynb",
            "02.05-Computation-on-arrays-broadcasting.ipynb",
            "02.06-Boolean-Arrays-and-Masks.ipynb",
            "02.07-Fancy-Indexing.ipynb",
            "02.08-Sorting.ipynb",
            "02.09-Structured-Data-NumPy.ipynb",
            "03.01-Introducing-Pandas-Objects.ipynb",
            "03.02-Data-Indexing-and-Selection.ipynb",
            "03.03-Operations-in-Pandas.ipynb",
            "03.04-Missing-Values.ipynb",
            "03.05-Hierarchical-Indexing.ipynb",
            "03.06-Concat-And-Append.ipynb",
            "03.07-Merge-and-Join.ipynb",
            "03.08-Aggregation-and-Grouping.ipynb",
            "03.09-Pivot-Tables.ipynb",
            "03.10-Working-With-Strings.ipynb",
            "03.12-Performance-Eval-and-Query.ipynb",
            "04.01-Simple-Line-Plots.ipynb",
            "04.02-Simple-Scatter-Plots.ipynb",
            "04.03-Errorbars.ipynb",
            "04.04-Density-and-Contour-Plots.ipynb",
            "04.05-Histograms-and-Binnings.ipynb",
            "04.06-Customizing-Legends.ipynb",
            "04.07-Customizing-Colorbars.ipynb",
            "04.08-Multiple-Subplots.ipynb",
            "04.09-Text-and-Annotation.ipynb",
            "04.10-Customizing-Ticks.ipynb",
            "04.11-Settings-and-Stylesheets.ipynb",
            "04.12-Three-Dimensional-Plotting.ipynb",
            "05.02-Introducing-Scikit-Learn.ipynb",
            "05.03-Hyperparameters-and-Model-Validation.ipynb",
            "05.04-Feature-Engineering.ipynb",
            "05.05-Naive-Bayes.ipynb",
            "05.06-Linear-Regression.ipynb",
            "05.07-Support-Vector-Machines.ipynb",
            "05.09-Principal-Component-Analysis.ipynb",
            "05.10-Manifold-Learning.ipynb",
            "05.11-K-Means.ipynb",
            "05.12-Gaussian-Mixtures.ipynb",
            "05.13-Kernel-Density-Estimation.ipynb",
            # Added 2026-12-02 evening.
            "01.06-Errors-and-Debugging.ipynb",
            "01.07-Timing-and-Profiling.ipynb",
            "03.11-Working-with-Time-Series.ipynb",
            "04.14-Visualization-With-Seaborn.ipynb",
            "06.00-Figure-Code.ipynb",
        ],
    ),
    # 05.08 imports the helper module that sits beside it.
    (
        "jakevdp/PythonDataScienceHandbook",
        "d66231454ef753818dc9213c9b5942e067266966",
        "notebooks",
        "notebooks/helpers_05_08.py",
        ["05.08-Random-Forests.ipynb"],
    ),
    (
        "jakevdp/PythonDataScienceHandbook",
        "d66231454ef753818dc9213c9b5942e067266966",
        "notebooks_v1",
        "notebooks_v1/helpers_05_08.py",
        ["05.08-Random-Forests.ipynb"],
    ),
    (
        "ageron/handson-ml2",
        "1e2115277b50f6c584cd668fa30e3af309a5b136",
        "",
        "",
        [
            "tools_numpy.ipynb",
            "tools_pandas.ipynb",
            "math_linear_algebra.ipynb",
            "04_training_linear_models.ipynb",
            "06_decision_trees.ipynb",
            "tools_matplotlib.ipynb",
            "math_differential_calculus.ipynb",
            "05_support_vector_machines.ipynb",
            "07_ensemble_learning_and_random_forests.ipynb",
        ],
    ),
    (
        "ageron/handson-ml2",
        "1e2115277b50f6c584cd668fa30e3af309a5b136",
        "",
        "datasets",
        [
            "01_the_machine_learning_landscape.ipynb",
            # Added 2026-12-02 evening (MNIST and downloaded images fail in every run alike).
            "02_end_to_end_machine_learning_project.ipynb",
            "03_classification.ipynb",
            "08_dimensionality_reduction.ipynb",
            "09_unsupervised_learning.ipynb",
            "extra_autodiff.ipynb",
            "extra_gradient_descent_comparison.ipynb",
        ],
    ),
    (
        "rasbt/python-machine-learning-book-3rd-edition",
        "bf62496f44a92a21d23250d5ed13d2d2e617e0e2",
        "ch03",
        "",
        ["ch03.ipynb"],
    ),
]
# The first edition's notebooks (same chapters and file names, older code, its own data
# folder): those of the second edition's list but 01.07 and 05.12, which it runs otherwise.
CORPUS.insert(
    2,
    (
        "jakevdp/PythonDataScienceHandbook",
        "d66231454ef753818dc9213c9b5942e067266966",
        "notebooks_v1",
        "notebooks_v1/data",
        sorted(
            name
            for name in CORPUS[0][4]
            if name not in ("01.07-Timing-and-Profiling.ipynb", "05.12-Gaussian-Mixtures.ipynb")
        ),
    ),
)
# rasbt's chapters read their data set beside the notebook (after :func:`offline`).
CORPUS += [
    (
        "rasbt/python-machine-learning-book-3rd-edition",
        "bf62496f44a92a21d23250d5ed13d2d2e617e0e2",
        chapter,
        chapter,
        [f"{chapter}.ipynb"],
    )
    for chapter in ("ch04", "ch05", "ch06", "ch07", "ch10", "ch11")
]
# "Python for Data Analysis", 3rd edition: the notebooks at the repository's root read
# ``examples/`` and ``datasets/`` beside them.
CORPUS.append(
    (
        "wesm/pydata-book",
        "d86d8056fa17b180e2a7dc1d9ae1cfb830967d50",
        "",
        "examples datasets",
        [
            "appa.ipynb",
            "ch02.ipynb",
            "ch03.ipynb",
            "ch04.ipynb",
            "ch05.ipynb",
            "ch06.ipynb",
            "ch07.ipynb",
            "ch08.ipynb",
            "ch09.ipynb",
            "ch10.ipynb",
            "ch11.ipynb",
            "ch12.ipynb",
            "ch13.ipynb",
        ],
    )
)
# "A Whirlwind Tour of Python": the language alone (generators, iterators, exceptions,
# strings and regular expressions), cheap cells, and a closing chapter of matplotlib figures.
CORPUS.append(
    (
        "jakevdp/WhirlwindTourOfPython",
        "6f1daf714fe52a8dde6a288674ba46a7feed8816",
        "",
        "fig",
        [
            "02-Basic-Python-Syntax.ipynb",
            "03-Semantics-Variables.ipynb",
            "04-Semantics-Operators.ipynb",
            "05-Built-in-Scalar-Types.ipynb",
            "06-Built-in-Data-Structures.ipynb",
            "07-Control-Flow-Statements.ipynb",
            "08-Defining-Functions.ipynb",
            "09-Errors-and-Exceptions.ipynb",
            "10-Iterators.ipynb",
            "11-List-Comprehensions.ipynb",
            "12-Generators.ipynb",
            "13-Modules-and-Packages.ipynb",
            "14-Strings-and-Regular-Expressions.ipynb",
            "15-Preview-of-Data-Science-Tools.ipynb",
            "17-Figures.ipynb",
        ],
    )
)

# Added 2026-12-03 (corpus helper): notebooks importing their repository's own modules.
# "Introduction to Machine Learning with Python": ``from preamble import *`` (rcParams, print
# and display options, the ``mglearn`` package folder beside it); mglearn reads its data from
# ``mglearn/data``, which the repository keeps at ``data/`` (``SRC=PLACE`` copies it there).
# 02 and 03 are missing from the mirror (its largest files); 07 needs the IMDb download.
CORPUS.append(
    (
        "amueller/introduction_to_ml_with_python",
        "ea60cf6cf791553b6cca7cf31802c68cb3798ebb",
        "",
        "preamble.py mglearn data data=mglearn/data",
        [
            "01-introduction.ipynb",
            "04-representing-data-feature-engineering.ipynb",
            "05-model-evaluation-and-improvement.ipynb",
            "06-algorithm-chains-and-pipelines.ipynb",
            "08-conclusion.ipynb",
        ],
    )
)
# J.R. Johansson's lectures: ``from numpy import *``, a data file read with ``genfromtxt``,
# files saved by one cell and loaded by a later one, ``%%file mymodule.py`` then ``import
# mymodule``, sympy's printing. (Lecture 3 and 6B have Python 2 cells: they fail alike.)
CORPUS.append(
    (
        "jrjohansson/scientific-python-lectures",
        "a2a76136ac06ff5fa91343ae095f1223c914d944",
        "",
        "stockholm_td_adj.dat",
        [
            "Lecture-1-Introduction-to-Python-Programming.ipynb",
            "Lecture-2-Numpy.ipynb",
            "Lecture-3-Scipy.ipynb",
            "Lecture-4-Matplotlib.ipynb",
            "Lecture-5-Sympy.ipynb",
        ],
    )
)
# jakevdp's scikit-learn tutorial: the ``fig_code`` package beside the notebooks.
CORPUS.append(
    (
        "jakevdp/sklearn_tutorial",
        "5098cee2a638c56c311aca0c18987e407fe127fd",
        "notebooks",
        "notebooks/fig_code notebooks/images",
        [
            "02.1-Machine-Learning-Intro.ipynb",
            "02.2-Basic-Principles.ipynb",
            "03.1-Classification-SVMs.ipynb",
            "03.2-Regression-Forests.ipynb",
            "04.1-Dimensionality-PCA.ipynb",
            "04.2-Clustering-KMeans.ipynb",
            "04.3-Density-GMM.ipynb",
            "05-Validation.ipynb",
        ],
    )
)

# Added 2026-12-03 (corpus helper, second round): statistics, time series, pure Python.
# "Think Stats" 2nd edition: thinkstats2/thinkplot/nsfg modules and the NSFG data beside the
# exercises (their ``download(url)`` calls find the files there and fetch nothing); classes
# of a local module (Pmf, Cdf, HypothesisTest), scipy.stats, statsmodels' formulas.
CORPUS.append(
    (
        "AllenDowney/ThinkStats2",
        "ed53b15755e08fccfdac07af5e5aac76e4507731",
        "code",
        "code",
        [f"chap{n:02d}ex.ipynb" for n in range(1, 15)],
    )
)
# Julia Evans' pandas cookbook: time series (resample, DatetimeIndex), string methods,
# ``plt.style.use('ggplot')`` and rcParams, SQLite. (Chapters 2, 3 and 7 read a CSV that the
# mirror lacks.)
CORPUS.append(
    (
        "jvns/pandas-cookbook",
        "69d3389e4d9fee6dcf8e59e4c91397e81da79163",
        "cookbook",
        "cookbook/data",
        [
            "Chapter 1 - Reading from a CSV.ipynb",
            "Chapter 4 - Find out on which weekday people bike the most with groupby and aggregate.ipynb",
            "Chapter 5 - Combining dataframes and scraping Canadian weather data.ipynb",
            "Chapter 6 - String Operations- Which month was the snowiest.ipynb",
            "Chapter 8 - How to deal with timestamps.ipynb",
            "Chapter 9 - Loading data from SQL databases.ipynb",
        ],
    )
)
# Norvig's pytudes: the language heavily (classes, closures, generators, dataclasses,
# Fractions, ``functools.lru_cache``), unseeded ``random``, word lists read from files.
CORPUS.append(
    (
        "norvig/pytudes",
        "414fe258a4181c2a819959d9a29bfcbe4c4b19c7",
        "ipynb",
        "ipynb/enable1.txt ipynb/sgb-words.txt",
        [
            "Probability.ipynb",
            "ProbabilityParadox.ipynb",
            "Cheryl.ipynb",
            "Sicherman Dice.ipynb",
            "SET.ipynb",
            "Differentiation.ipynb",
            "Coin Flip.ipynb",
            "BASIC.ipynb",
            "Economics.ipynb",
            "Mean Misanthrope Density.ipynb",
            "Dice Baseball.ipynb",
            "Menu.ipynb",
            "Life.ipynb",
            "Jotto.ipynb",
            "Ghost.ipynb",
            "Maze.ipynb",
        ],
    )
)

# scikit-image's tutorials: images read from ``../images``, the ``skdemo`` package beside
# the lectures, ``skimage.data``, filters, morphology, segmentation, ``interact`` sliders.
CORPUS.append(
    (
        "scikit-image/skimage-tutorials",
        "69f245cbba2f9b0a2f07d7e44a861d9bc2179656",
        "lectures",
        "images lectures/skdemo",
        [
            "00_images_are_arrays.ipynb",
            "1_image_filters.ipynb",
            "3_morphological_operations.ipynb",
            "4_segmentation.ipynb",
            "5_tophat_filters.ipynb",
            "6_watershed_tricks.ipynb",
        ],
    )
)
# ipywidgets' own documentation notebooks: ``interact``/``interactive`` on functions and
# closures, widget events and links, the Output widget, an ODE solved in a slider's callback,
# sympy factoring and networkx graphs behind sliders.
CORPUS.append(
    (
        "jupyter-widgets/ipywidgets",
        "fbc0d6e9cd63727b5951f2bf559f1a5769e4455d",
        "docs/source/examples",
        "docs/source/examples/images",
        [
            "Using Interact.ipynb",
            "Widget Basics.ipynb",
            "Widget Events.ipynb",
            "Widget List.ipynb",
            "Output Widget.ipynb",
            "Lorenz Differential Equations.ipynb",
            "Beat Frequencies.ipynb",
            "Factoring.ipynb",
            "Exploring Graphs.ipynb",
            "Image Processing.ipynb",
        ],
    )
)

# Added 2026-12-03 afternoon (corpus helper, third round): pandas exercises, matplotlib's
# tutorial, a pandas course with its data.
# guipsamora's pandas_exercises: one folder per exercise, the data set beside the notebook
# (read from the repository's GitHub address: :func:`shipped` reads the file beside it) or
# built in the notebook (dicts of lists, unseeded ``np.random``).
CORPUS += [
    (
        "guipsamora/pandas_exercises",
        "daf0fd2c7c34724aba5b7ec6006aaf9873a2913b",
        folder,
        folder,
        [name],
    )
    for folder, name in (
        ("02_Filtering_&_Sorting/Euro12", "Exercises_with_Solutions.ipynb"),
        ("02_Filtering_&_Sorting/Fictional_Army", "Exercise_with_solutions.ipynb"),
        ("03_Grouping/Regiment", "Exercises_solutions.ipynb"),
        ("04_Apply/Students_Alcohol_Consumption", "Exercises_with_solutions.ipynb"),
        ("04_Apply/US_Crime_Rates", "Exercises_with_solutions.ipynb"),
        ("05_Merge/Auto_MPG", "Exercises_with_solutions.ipynb"),
        ("05_Merge/Fictitous_Names", "Exercises_with_solutions.ipynb"),
        ("05_Merge/Housing_Market", "Exercises_with_solutions.ipynb"),
        ("06_Stats/Wind_Stats", "Exercises_with_solutions.ipynb"),
        ("07_Visualization/Tips", "Exercises_with_code_and_solutions.ipynb"),
        ("07_Visualization/Titanic_Disaster", "Exercises_code_with_solutions.ipynb"),
        ("08_Creating_Series_and_DataFrames/Pokemon", "Exercises-with-solutions-and-code.ipynb"),
        ("09_Time_Series/Apple_Stock", "Exercises-with-solutions-code.ipynb"),
    )
]
# "Anatomy of Matplotlib" (matplotlib's own tutorial): figures, subplots, artists, rcParams,
# ``plt.style``, mpl_toolkits; the exercises' solutions are ``%load``ed (dropped).
CORPUS.append(
    (
        "matplotlib/AnatomyOfMatplotlib",
        "e51eb6363371f1b271b235a63f859dbd984ff756",
        "",
        "",
        [
            "AnatomyOfMatplotlib-Part0-Intro2NumPy.ipynb",
            "AnatomyOfMatplotlib-Part1-Figures_Subplots_and_layouts.ipynb",
            "AnatomyOfMatplotlib-Part2-Plotting_Methods_Overview.ipynb",
            "AnatomyOfMatplotlib-Part3-HowToSpeakMPL.ipynb",
            "AnatomyOfMatplotlib-Part4-Limits_Legends_and_Layouts.ipynb",
            "AnatomyOfMatplotlib-Part5-Artists.ipynb",
            "AnatomyOfMatplotlib-Part6-mpl_toolkits.ipynb",
        ],
    )
)
# Joris Van den Bossche's pandas tutorial (2017): titanic, NO2 and river-flow time series
# from ``data/``; the exercises' solutions are ``%load``ed (dropped).
CORPUS.append(
    (
        "jorisvandenbossche/pandas-tutorial",
        "8308a6eb7d144fff95a6853930e3be4e8ddb2e0f",
        "",
        "data",
        [
            "01-pandas_introduction.ipynb",
            "02 - Data structures.ipynb",
            "03 - Indexing and selecting data.ipynb",
            "03b - Some more advanced indexing.ipynb",
            "04 - Groupby operations.ipynb",
            "04b - Advanced groupby operations.ipynb",
            "05 - Time series data.ipynb",
            "06 - Reshaping data.ipynb",
            "07 - Case study - air quality data.ipynb",
        ],
    )
)

# IPython's own example notebooks (removed from the repository in 2024: pinned at the commit
# before): rich output, display ids updated later, ``clear_output``, ``%%capture``, custom
# ``_repr_*_`` and formatters, ``_``/``Out``, background jobs, sympy's printing.
CORPUS.append(
    (
        "ipython/ipython",
        "39c7d0e0f73fd70c8673fbdb5d81a24bb35780c8",
        "examples/IPython Kernel",
        "examples/images",
        [
            "Rich Output.ipynb",
            "Capturing Output.ipynb",
            "Custom Display Logic.ipynb",
            "Updating Displays.ipynb",
            "Animations Using clear_output.ipynb",
            "Beyond Plain Python.ipynb",
            "Cell Magics.ipynb",
            "Plotting in the Notebook.ipynb",
            "SymPy.ipynb",
            "Trapezoid Rule.ipynb",
            "Third Party Rich Output.ipynb",
            "Background Jobs.ipynb",
        ],
    )
)

# Pierian Data's "Complete Python 3 Bootcamp": the language, files written and read back,
# folders walked, zipped and unzipped, ``random`` seeded and not, classes and decorators.
# (Not 07's "Errors and Exceptions Handling": its ``askint()`` retries ``input()`` in a loop
# with a bare ``except``, endlessly where stdin is not allowed.)
CORPUS += [
    (
        "Pierian-Data/Complete-Python-3-Bootcamp",
        "ed69ec6b229de6b96a325f17be839a7eadeec60a",
        folder,
        "",
        [name],
    )
    for folder, name in (
        ("00-Python Object and Data Structure Basics", "08-Files.ipynb"),
        ("05-Object Oriented Programming", "01-Object Oriented Programming.ipynb"),
        ("10-Python Decorators", "01-Decorators.ipynb"),
        ("11-Python Generators", "01-Iterators and Generators.ipynb"),
        ("12-Advanced Python Modules", "00-Collections-Module.ipynb"),
        ("12-Advanced Python Modules", "01-Opening-and-Reading-Files-Folders.ipynb"),
        ("12-Advanced Python Modules", "02-Datetime-Module.ipynb"),
        ("12-Advanced Python Modules", "03-Math-and-Random-Module.ipynb"),
        ("12-Advanced Python Modules", "07-Unzipping-and-Zipping-Files.ipynb"),
    )
]
# "Hands-On Machine Learning", 3rd edition: the tools and math notebooks and the chapters
# whose data sets ship with scikit-learn.
CORPUS.append(
    (
        "ageron/handson-ml3",
        "e3f3f9e66d58cfa1d068a498433063a1d3fba9ef",
        "",
        "",
        [
            "tools_numpy.ipynb",
            "tools_pandas.ipynb",
            "tools_matplotlib.ipynb",
            "math_linear_algebra.ipynb",
            "04_training_linear_models.ipynb",
            "05_support_vector_machines.ipynb",
            "06_decision_trees.ipynb",
        ],
    )
)

# Added 2026-12-03 evening (corpus helper, fourth round): statsmodels' own example notebooks
# (their data sets ship with statsmodels: ``sm.datasets``): results objects and their
# summaries, the formula API (patsy reads the notebook's names), time-series models with
# date indexes, simulations with seeded and unseeded ``np.random``.
CORPUS.append(
    (
        "statsmodels/statsmodels",
        "82c59e378bdfb5ae324006c477954879ad3e24be",
        "examples/notebooks",
        "",
        [
            "gls.ipynb",
            "predict.ipynb",
            "arima_alternative_estimators_seasonal_differencing.ipynb",
            "gee_score_test_simulation.ipynb",
            "influence_glm_logit.ipynb",
            "mediation_survival.ipynb",
            "statespace_concentrated_scale.ipynb",
            "stationarity_detrending_adf_kpss.ipynb",
            "stl_seasonal_diagnostic_plot.ipynb",
            "gee_nested_simulation.ipynb",
            "pca_fertility_factors.ipynb",
            "robust_models_0.ipynb",
            "statespace_seasonal.ipynb",
            "variance_components.ipynb",
            "ets.ipynb",
            "exponential_smoothing.ipynb",
            "autoregressive_integrated_moving_average.ipynb",
            "discrete_choice_overview.ipynb",
            "plots_boxplots.ipynb",
            "treatment_effect.ipynb",
            "kernel_density.ipynb",
            "tsa_filters.ipynb",
            "count_hurdle.ipynb",
            "glm.ipynb",
            "deterministics.ipynb",
            "statespace_arma_0.ipynb",
            "stats_poisson.ipynb",
            "stats_rankcompare.ipynb",
            "ols.ipynb",
            "statespace_forecasting.ipynb",
            "categorical_interaction_plot.ipynb",
            "multivariate_ls.ipynb",
            "tsa_arma_0.ipynb",
            "postestimation_poisson.ipynb",
            "glm_formula.ipynb",
            "statespace_sarimax_faq.ipynb",
        ],
    )
)

# More of Norvig's pytudes: an interpreter (lispy's Env, Procedure, closures), puzzle
# solvers (constraint search, generators, ``functools.cache``), card and dice simulations
# with unseeded ``random``, dataclasses and ``Fraction``s, word lists read from files.
CORPUS.append(
    (
        "norvig/pytudes",
        "414fe258a4181c2a819959d9a29bfcbe4c4b19c7",
        "ipynb",
        "ipynb/enable1.txt ipynb/wordle-small.txt ipynb/wordle-big.txt",
        [
            "lispy.ipynb",
            "Cryptarithmetic.ipynb",
            "Konane.ipynb",
            "StableMatching.ipynb",
            "TwelveBalls.ipynb",
            "Cant-Stop.ipynb",
            "Orderable Cards.ipynb",
            "war.ipynb",
            "Triplets.ipynb",
            "Snobol.ipynb",
            "Babylonian digits.ipynb",
            "RationalPi.ipynb",
            "Euler's Conjecture.ipynb",
            "Stubborn.ipynb",
            "Series7.ipynb",
            "DocstringFixpoint.ipynb",
            "Anigrams.ipynb",
            "NumberBracelets.ipynb",
            "CrossProduct.ipynb",
            "Overtime.ipynb",
            "Pickleball.ipynb",
        ],
    )
)

# Added 2026-12-03 late evening (corpus helper, fifth round): Allen Downey's books run from
# their solution folders (the modules and data files beside the chapters, which ``download()``
# finds there and fetches nothing), a Python course, scikit-learn videos.
# "Think DSP": the ``thinkdsp`` module's Signal/Wave/Spectrum classes, wav files read and
# written, ``IPython.display.Audio``, numpy's FFT, scipy's signal and integrate.
CORPUS.append(
    (
        "AllenDowney/ThinkDSP",
        "b80edd98016d4d5afe3336faf31fdf8e25056ebc",
        "soln",
        # soln/thinkdsp.py is a symbolic link to the package's module: that module in its place.
        "soln thinkdsp/thinkdsp.py=soln/thinkdsp.py",
        # 04, 06 and 10 are missing from the mirror (its largest files); 12 has two code cells.
        [f"chap{n:02d}.ipynb" for n in (1, 2, 3, 5, 7, 8, 9, 11)],
    )
)
# "Think Python", 3rd edition: the language from the start (functions, recursion, strings,
# lists, dicts, tuples, files, classes and inheritance), ``thinkpython``'s ``%%expect``
# magics and the ``diagram`` module's matplotlib drawings, beside the chapters.
CORPUS.append(
    (
        "AllenDowney/ThinkPython",
        "4f17981095de2bceba8a8d63bb19a7bcc271aa9c",
        "chapters",
        "thinkpython.py=chapters/thinkpython.py diagram.py=chapters/diagram.py"
        " structshape.py=chapters/structshape.py words.txt=chapters/words.txt"
        " Turtle.py=chapters/Turtle.py photos.zip=chapters/photos.zip",
        [f"chap{n:02d}.ipynb" for n in range(1, 19)],
    )
)
# "Think Bayes", 2nd edition: ``empiricaldist``'s Pmf/Cdf (pandas Series subclasses), the
# book's ``utils`` and data files beside the chapters, scipy.stats distributions, meshgrids
# of joint distributions, statsmodels' formulas. (19 needs PyMC.)
CORPUS.append(
    (
        "AllenDowney/ThinkBayes2",
        "597602d67b8b03c38569173dc91cd10e190a0429",
        "soln",
        "soln/utils.py data=soln",
        [f"chap{n:02d}.ipynb" for n in range(1, 19)],
    )
)
# "Think Stats", 2nd edition, solutions: the book's ``thinkstats2``/``thinkplot`` modules and
# the NSFG survey files (fixed-width ``.dat.gz`` read through Stata dictionaries) beside them,
# pandas groupby and value counts, PMFs and CDFs, scipy.stats, regressions with statsmodels.
CORPUS.append(
    (
        "AllenDowney/ThinkStats2",
        "ed53b15755e08fccfdac07af5e5aac76e4507731",
        "solutions",
        "code=solutions",
        [f"chap{n:02d}soln.ipynb" for n in range(1, 15)],
    )
)
# Kevin Markham's scikit-learn videos: iris, KNN, train/test split, cross-validation, grid
# search, metrics, a pipeline with a ``ColumnTransformer`` (Advertising and Pima data beside).
CORPUS.append(
    (
        "justmarkham/scikit-learn-videos",
        "8545c74961398def7724501648fd504dbf061b41",
        "",
        "data",
        [
            "03_getting_started_with_iris.ipynb",
            "04_model_training.ipynb",
            "05_model_evaluation.ipynb",
            "06_linear_regression.ipynb",
            "07_cross_validation.ipynb",
            "08_grid_search.ipynb",
            "09_classification_metrics.ipynb",
            "10_categorical_features.ipynb",
        ],
    )
)

# Robert Johansson's "Numerical Python" (2nd edition) code listings: numpy arrays at length,
# sympy, scipy's linear algebra, optimization (cvxopt), interpolation, integration (mpmath),
# ODEs, sparse matrices and networkx, pandas time series and seaborn, scipy.stats, statsmodels
# formulas, scikit-learn, signal processing, and file formats (csv, h5py, PyTables, msgpack,
# pickle). The data files sit at the repository's root. (04, 11 and 16 are missing from the
# mirror, and so is guitar.wav, which 17 reads; 08 needs skmonaco: those cells fail plain too.)
CORPUS.append(
    (
        "jrjohansson/numerical-python-book-code",
        "be1d6227f7747f2e68ec5c17d9a880d4f37dc187",
        "",
        "european_cities.csv fib.py playerstats-2013-2014-subset.csv"
        " playerstats-2013-2014-top30.csv playerstats-2013-2014.csv"
        " temperature_indoor_2014.tsv temperature_outdoor_2014.tsv tokyo-metro.json",
        [
            "ch02-code-listing.ipynb",
            "ch02-figures.ipynb",
            "ch03-code-listing.ipynb",
            "ch05-code-listing.ipynb",
            "ch06-code-listing.ipynb",
            "ch07-code-listing.ipynb",
            "ch08-code-listing.ipynb",
            "ch08-figures.ipynb",
            "ch09-code-listing.ipynb",
            "ch10-code-listing.ipynb",
            "ch12-code-listing.ipynb",
            "ch13-code-listing.ipynb",
            "ch14-code-listing.ipynb",
            "ch15-code-listing.ipynb",
            "ch17-code-listing.ipynb",
            "ch18-code-listing.ipynb",
        ],
    )
)
# QuantEcon's "Python Programming for Economics and Finance" lectures: the language (names
# and namespaces, OOP, generators, decorators, descriptors), numpy, matplotlib, scipy, sympy,
# numba's jit, debugging. (The pandas and jax lectures need the network or a GPU stack.)
CORPUS.append(
    (
        "QuantEcon/lecture-python-programming.notebooks",
        "b15e5327f754468dff267d43d9f63c1650f36350",
        "",
        "",
        [
            "about_py.ipynb",
            "debugging.ipynb",
            "functions.ipynb",
            "matplotlib.ipynb",
            "names.ipynb",
            "need_for_speed.ipynb",
            "numba.ipynb",
            "numpy.ipynb",
            "oop_intro.ipynb",
            "parallelization.ipynb",
            "python_advanced_features.ipynb",
            "python_by_example.ipynb",
            "python_essentials.ipynb",
            "python_oop.ipynb",
            "scipy.ipynb",
            "sympy.ipynb",
            "writing_good_code.ipynb",
        ],
    )
)

# Added 2026-12-04 evening (corpus helper): numpy exercises, the IPython Cookbook's recipes.
# rougier's "100 numpy exercises" with their solutions (the notebook kept them until 2020; the
# later ones are generated without them): one-liners at length, views and strides,
# structured dtypes, ``np.random`` seeded and not, ``np.set_printoptions``, ``warnings``.
CORPUS.append(
    (
        "rougier/numpy-100",
        "e2dc21f4acb1855fa333d6f7d9ce3251a315b25c",
        "",
        "",
        ["100_Numpy_exercises.ipynb"],
    )
)
# Cyrille Rossant's "IPython Interactive Computing and Visualization Cookbook", 2nd edition:
# the recipes that run offline on a CPU with what the venv has: magics defined by the
# notebook, array copies and views, stride tricks, memmaps and HDF5 files, numba and numexpr,
# scipy.stats and statsmodels fits, scikit-learn, scipy.optimize, ODEs, stochastic simulations,
# networkx, sympy. (The others download data, need a GPU, Cython, ray, ipyparallel, R,
# cartopy, OpenCV or Sage.)
CORPUS += [
    (
        "ipython-books/cookbook-2nd-code",
        "56bb11462b8d24d9a984fd5bd4bc239c0fa0475e",
        folder,
        "",
        [name],
    )
    for folder, names in (
        ("chapter01_basic", "03_numpy 04_magic 05_config"),
        (
            "chapter04_optimization",
            "05_array_copies 06_stride_tricks 07_rolling_average 08_memmap 09_hdf5_array",
        ),
        ("chapter05_hpc", "01_slow 02_numba 03_numexpr"),
        ("chapter07_stats", "02_z_test 03_bayesian 05_mlfit"),
        ("chapter08_ml", "01_scikit 03_digits 05_svm 06_random_forest 07_pca 08_clustering"),
        ("chapter09_numoptim", "01_root 02_minimize 03_curvefitting 04_energy"),
        ("chapter11_image", "02_filters 03_segmentation 07_synth"),
        ("chapter12_deterministic", "01_bifurcation 02_cellular 03_ode"),
        ("chapter13_stochastic", "01_markov 02_poisson 03_brownian 04_sde"),
        ("chapter14_graphgeo", "01_networkx 04_connected"),
        (
            "chapter15_symbolic",
            "01_sympy_intro 02_solvers 03_function 04_stats 05_number_theory 06_logic 07_lotka",
        ),
    )
    for name in (f"{n}.ipynb" for n in names.split())
]

# numpy's own tutorials, MyST Markdown notebooks (read with jupytext): the offline ones, their
# CSV files and X-ray images beside them: masked arrays, ``np.save``/``np.savez`` and loads,
# fractals on complex grids, a least-squares fit, statics with ``np.cross``, percentiles and
# a t-test, images stacked and filtered. (The MNIST tutorial downloads its data, and the SVD
# one scipy's ``face`` image.)
CORPUS.append(
    (
        "numpy/numpy-tutorials",
        "d8a82a1b792f24a52eebcf0ae5ec73ccacfef685",
        "content",
        "content/air-quality-data.csv content/transistor_data.csv"
        " content/who_covid_19_sit_rep_time_series.csv content/tutorial-x-ray-image-processing",
        [
            "mooreslaw-tutorial.md",
            "save-load-arrays.md",
            "tutorial-air-quality-analysis.md",
            "tutorial-ma.md",
            "tutorial-plotting-fractals.md",
            "tutorial-static_equilibrium.md",
            "tutorial-x-ray-image-processing.md",
        ],
    )
)

# Lorena Barba's "12 steps to Navier-Stokes": finite differences on numpy grids, loops against
# array slicing, 2D and 3D plots of the fields (one lesson uses sympy for the exact solution).
CORPUS.append(
    (
        "barbagroup/CFDPython",
        "92c8220070824e95402d83f193c4e496f4308dcb",
        "lessons",
        "",
        [
            "00_Quick_Python_Intro.ipynb",
            "01_Step_1.ipynb",
            "02_Step_2.ipynb",
            "03_CFL_Condition.ipynb",
            "04_Step_3.ipynb",
            "05_Step_4.ipynb",
            "06_Array_Operations_with_NumPy.ipynb",
            "07_Step_5.ipynb",
            "08_Step_6.ipynb",
            "09_Step_7.ipynb",
            "10_Step_8.ipynb",
            "11_Defining_Function_in_Python.ipynb",
            "12_Step_9.ipynb",
            "13_Step_10.ipynb",
            "14_Step_11.ipynb",
            "15_Step_12.ipynb",
        ],
    )
)
# Allen Downey's "Modeling and Simulation in Python": its ``modsim`` module (State and System
# namespaces, TimeSeries, ``run_solve_ivp``, ``root_scalar``, ``maximize_scalar``) beside the
# chapters, the earlier chapters' helper modules and two CSV files they would download. (The
# chapters that read HTML tables need lxml, and the first ones pint.)
CORPUS.append(
    (
        "AllenDowney/ModSimPy",
        "fd52a3c6cf4f58eba6840ad6055c9d73134c419a",
        "chapters",
        "modsim.py=chapters/modsim.py data/glucose_insulin.csv=chapters/glucose_insulin.csv"
        " data/baseball_drag.csv=chapters/baseball_drag.csv chapters/chap11.py"
        " chapters/chap12.py chapters/chap13.py chapters/chap15.py chapters/chap18.py"
        " chapters/chap22.py",
        [f"chap{n}.ipynb" for n in range(11, 28) if n not in (19, 26)],
    )
)
# Allen Downey's "Think Complexity", 2nd edition: networkx graphs, cellular automata and
# agent models on numpy grids (Cell1D, Cell2D), empiricaldist distributions.
CORPUS.append(
    (
        "AllenDowney/ThinkComplexity2",
        "f0417b35ca269e312bf0c950d07fe3c5aa7b3dea",
        "notebooks",
        "notebooks/utils.py notebooks/Cell1D.py notebooks/Cell2D.py",
        [f"chap{n:02}.ipynb" for n in range(2, 13) if n != 4],
    )
)
# fast.ai's "Computational Linear Algebra": regression by hand against scikit-learn and scipy,
# QR factorizations written out (Gram-Schmidt, Householder), a gradient descent.
CORPUS.append(
    (
        "fastai/numerical-linear-algebra",
        "694453e105b2a8f96b62b62d44d234c561eba268",
        "nbs",
        "",
        [
            "6. How to Implement Linear Regression.ipynb",
            "8. Implementing QR Factorization.ipynb",
            "gradient-descent-intro.ipynb",
        ],
    )
)


def _lesson_folders(
    repo: str, commit: str, base: str, rows: tuple[tuple[str, str, str], ...]
) -> list[tuple[str, str, str, str, list[str]]]:
    """CORPUS entries of a course whose notebooks sit in folders under ``base``, each with
    the data files beside them: ``rows`` of (folder, its data files, its notebooks), the
    last two space-separated names (notebooks without ``.ipynb``)."""
    return [
        (
            repo,
            commit,
            f"{base}/{folder}",
            " ".join(f"{base}/{folder}/{d}" for d in data.split()),
            [f"{n}.ipynb" for n in names.split()],
        )
        for folder, data, names in rows
    ]


# Barba et al.'s "Practical Numerical Methods with Python" (numerical-mooc): ODE integrators
# on the phugoid model, finite-volume and MUSCL schemes for traffic flow and Sod's shock tube,
# explicit and implicit heat equations with scipy's solvers, relaxation and conjugate
# gradients, with the helper modules and ``.npz`` data of each lesson beside it. (Their last
# cells read the course's CSS from two folders up: they fail in every run alike.)
CORPUS += _lesson_folders(
    "numerical-mooc/numerical-mooc",
    "6a70f986729067dee9ca1fb26ba164b035fc971b",
    "lessons",
    (
        (
            "01_phugoid",
            "phugoid.py",
            "01_01_Phugoid_Theory 01_02_Phugoid_Oscillation 01_03_PhugoidFullModel"
            " 01_04_Second_Order_Methods",
        ),
        (
            "02_spacetime",
            "",
            "02_01_1DConvection 02_02_CFLCondition 02_03_1DDiffusion 02_04_1DBurgers",
        ),
        (
            "03_wave",
            "traffic.py",
            "03_01_conservationLaw 03_02_convectionSchemes 03_03_aBetterModel 03_04_MUSCL"
            " 03_05_Sods_Shock_Tube",
        ),
        (
            "04_spreadout",
            "data",
            "04_00_Python_Function_Quirks 04_01_Heat_Equation_1D_Explicit"
            " 04_02_Heat_Equation_1D_Implicit 04_03_Heat_Equation_2D_Explicit"
            " 04_04_Heat_Equation_2D_Implicit 04_05_Crank-Nicolson 04_06_Reaction_Diffusion",
        ),
        (
            "05_relax",
            "data helper.py multigrid_helper.py",
            "05_01_2D.Laplace.Equation 05_02_2D.Poisson.Equation 05_03_Iterate.This"
            " 05_04_Conjugate.Gradient 05_05_Stokes.Flow",
        ),
    ),
)

# Mark Bakker's "Exploratory Computing with Python" (TU Delft), the solved notebooks 1-13:
# numpy arrays and loops, functions and root finding, linear systems, pandas time series,
# discrete and continuous random variables, hypothesis tests, classes, regression; each
# folder's data files beside its notebook.
CORPUS += [
    (
        "mbakker7/exploratory_computing_with_python",
        "43eb1189448e6b9b742e808a544120a5f5f09e57",
        folder,
        folder,
        [f"py_exploratory_comp_{n}_sol.ipynb"],
    )
    for n, folder in (
        (1, "notebook1_basics_plotting"),
        (2, "notebook2_arrays"),
        (3, "notebook3_for_and_if"),
        (4, "notebook4_functions"),
        (5, "notebook5_rootfinding"),
        (6, "notebook6_linear_systems"),
        (7, "notebook7_bugs"),
        (8, "notebook8_pandas"),
        (9, "notebook9_discrete_random_variables"),
        (10, "notebook10_continuous_random_variables"),
        (11, "notebook11_hypothesis_test"),
        (12, "notebook12_oop"),
        (13, "notebook13_regression1"),
    )
]
# Jeffrey Kantor's "Process Dynamics and Control" (CBE 30338): small models integrated with
# scipy's odeint and solve_ivp, linearizations, ipywidgets' ``interact``, seaborn contexts,
# a PID simulation written as generators. (The chapters needing the control library, a
# TCLab device or Pyomo's solvers are left out.)
CORPUS.append(
    (
        "jckantor/CBE30338",
        "93418114a42775804cd419126e6e1d09f609ee3d",
        "notebooks",
        "",
        [
            "01.01-Getting-Started-with-Python-and-Jupyter-Notebooks.ipynb",
            "01.02-Python-Basics.ipynb",
            "01.03-Python-Conditionals-and-Libraries.ipynb",
            "01.04-Python-Numeric-Integration-Revisited.ipynb",
            "02.02-Gravity-Drained-Tank.ipynb",
            "02.03-Blending-Tank-Simulation.ipynb",
            "02.04-Continuous-Product-Blending.ipynb",
            "02.06-Exothermic-CSTR.ipynb",
            "02.07-Fed-Batch-Bioreactor.ipynb",
            "02.08-Model-Library.ipynb",
            "03.01-Step-Response-of-a-Gravity-Drained-Tank.ipynb",
            "03.02-Linear-Approximation-of-a-Process-Model.ipynb",
            "03.05-One-Compartment-Pharmacokinetics.ipynb",
            "03.06-Second-Order-Models.ipynb",
            "03.09-COVID-19.ipynb",
            "08.01-Zero-Order-Hold-and-Interpolation.ipynb",
            "A.02-Modular-Approach-to-Simulation-using-Python-Generators.ipynb",
            "A.03-Animation-in-Jupyter-Notebooks.ipynb",
        ],
    )
)
# Allen Downey's "Elements of Data Science": the chapters whose data the repository ships
# (the GSS extract as a fixed-width file read with statadict, and as HDF5); the BRFSS file
# is over the mirror's size limit, so 12's later cells fail in every run alike.
CORPUS.append(
    (
        "AllenDowney/ElementsOfDataScience",
        "f17c815b72ed2227a853ca38e63d7f463de1030a",
        "",
        "data/GSS.dat.gz=GSS.dat.gz data/GSS.dct=GSS.dct data/gss_eda.hdf=gss_eda.hdf",
        [
            "01_variables.ipynb",
            "03_arrays.ipynb",
            "08_distributions.ipynb",
            "11_resampling.ipynb",
            "12_bootstrap.ipynb",
            "central_limit.ipynb",
            "testing_means.ipynb",
        ],
    )
)
# Its worked examples that need no data: empiricaldist, scipy.stats and statsmodels.
CORPUS.append(
    (
        "AllenDowney/ElementsOfDataScience",
        "f17c815b72ed2227a853ca38e63d7f463de1030a",
        "examples",
        "",
        [
            "anderson.ipynb",
            "correlation.ipynb",
            "correlation3.ipynb",
            "density.ipynb",
            "odds.ipynb",
        ],
    )
)
# Michael Pyrcz's "PythonNumericalDemos": the demonstrations that need no data file:
# bootstraps and Monte Carlo draws, convolutions, an LU decomposition, ipywidgets' sliders.
CORPUS.append(
    (
        "GeostatsGuy/PythonNumericalDemos",
        "86190bb55836c8924d48b24382e95eb99727fde7",
        "",
        "",
        [
            "Bootstrap.ipynb",
            "Confidence_Interval_BySteps.ipynb",
            "Convolution_Simulation_Demo.ipynb",
            "LU+Decomposition.ipynb",
            "Interactive_Bayesian_Updating.ipynb",
            "Interactive_Monte_Carlo_Methods.ipynb",
            "Interactive_Sivia_Coin_Toss.ipynb",
            "Interactive_Optimization.ipynb",
            "Interactive_Norms.ipynb",
            "Interactive_Bootstrap.ipynb",
            "Interactive_Bootstrap_CowbowHat.ipynb",
            "Interactive_Central_Limit_Theorem.ipynb",
            "Interactive_Confidence_Interval.ipynb",
            "Interactive_Convolution_kNearest.ipynb",
            "Interactive_Linear_Solutions.ipynb",
            "Interactive_MarginalJointConditional.ipynb",
            "Interactive_PCA_Eigen.ipynb",
            "Interactive_Sampling_Methods.ipynb",
            "Interactive_Spectral_Clustering.ipynb",
        ],
    )
)

# Barba et al.'s "Engineering Computations" modules 2-4 (their own repositories): pandas on
# beer and lipstick tables, Euler steps of a falling ball and a rocket, oscillators, vector
# and matrix transforms with the module's ``plot_helper`` and sympy. (Their style cells read
# a CSS file three folders up and fail in every run alike.)
CORPUS += [
    (
        "engineersCode/EngComp2_takeoff",
        "1a1ce69b6ac33adffe4b1cd08913c62eeb173cd1",
        "notebooks_en",
        "data",
        ["2_Seeing_Stats.ipynb", "3_Lead_in_Lipstick.ipynb", "4_Life_Expectancy.ipynb"],
    ),
    (
        "engineersCode/EngComp3_flyatchange",
        "5b2e421b043bd9b0b782563a07dc61d8a122a8d0",
        "notebooks_en",
        "data",
        ["2_Step_Future.ipynb", "3_Get_Oscillations.ipynb", "4_Birdseye_Vibrations.ipynb"],
    ),
    (
        "engineersCode/EngComp4_landlinear",
        "a73c9e4fe2ad590118865354df82bb9cd10ba189",
        "notebook_en",
        "scripts",
        [
            "01_Transform_all_the_Vectors.ipynb",
            "02_Matrix_is_Everywhere.ipynb",
            "03_Eigenvectors_FTW.ipynb",
        ],
    ),
]

# Ethen Liu's "machine-learning" notes: each notebook's first cell changes directory to
# ``../notebook_format``, imports ``formats`` there (which silences warnings and returns the
# CSS) and the second changes back; ``%load_ext watermark``, ``%autoreload 2``,
# ``%config InlineBackend``. Then numpy, pandas, scipy, statsmodels and scikit-learn written
# out by hand: A/B tests, apriori, k-means, collinearity, KL divergence, a grid search,
# PageRank, regularization, bandits, chi-square feature selection, a random forest.
CORPUS += [
    (
        "ethen8181/machine-learning",
        "1dcc9799c79a974cebd47b32dd06e7a4711a6793",
        folder,
        "notebook_format" + (f" {folder}" if folder == "trees" else ""),
        [f"{n}.ipynb" for n in names.split()],
    )
    for folder, names in (
        ("ab_tests", "frequentist_ab_test"),
        ("association_rule", "apriori"),
        ("clustering", "kmeans"),
        ("model_selection", "collinearity kl_divergence model_selection"),
        ("networkx", "page_rank"),
        ("python", "class factory_pattern"),
        ("regularization", "regularization"),
        ("reinforcement_learning", "multi_armed_bandits"),
        ("text_classification", "chisquare"),
        ("trees", "random_forest"),
    )
] + [
    (
        "ethen8181/machine-learning",
        "1dcc9799c79a974cebd47b32dd06e7a4711a6793",
        f"python/{folder}",
        "notebook_format" + (f" python/{folder}" if folder in ("cohort", "decorators") else ""),
        [f"{n}.ipynb" for n in names.split()],
    )
    # Two folders down: ``../../notebook_format``. The algorithms notebooks start with
    # jupyterthemes (not installed: their first cell fails in every run alike); decorators
    # logs to files with ``logging.basicConfig``; cohort reads its CSV beside it.
    for folder, names in (
        ("algorithms", "basic_data_structure recursion search_sort tree"),
        ("cohort", "cohort"),
        ("decorators", "decorators"),
        ("iterator", "iterator"),
        ("python3_cookbook", "1_data_structure 2_strings_and_text"),
    )
]

# Added 2026-12-05 morning (corpus helper): a pandas and statsmodels tutorial of 2015, the
# Python Data Science notebooks' own numpy/pandas/matplotlib/scipy ones, Engineering
# Computations modules 1 and 5, Andrew Ng's exercises in Python.
# Chris Fonnesbeck's statistical analysis tutorial (pandas 0.16 era: ``sheetname=``,
# ``pandas.tools.rplot``, Python 2 prints fail in every run alike): baseball, microbiome and
# AIS tables from ``data/``, scipy.stats fits, statsmodels' formulas.
CORPUS.append(
    (
        "fonnesbeck/statistical-analysis-python-tutorial",
        "4a2444f6f677b24e62f4db94d96846d5ca9868e1",
        "",
        "data",
        [
            "1. Introduction to Pandas.ipynb",
            "2. Data Wrangling with Pandas.ipynb",
            "3. Plotting and Visualization.ipynb",
            "4. Statistical Data Modeling.ipynb",
        ],
    )
)
# Donne Martin's data-science-ipython-notebooks: the notebooks of its own (its 02.xx, 03.xx
# and 04.xx are copies of jakevdp's handbook, already above): ``import pylab``, seaborn's
# styles, pandas on ``../data``, Think Stats' modules and NSFG file beside the scipy ones.
CORPUS += [
    (
        "donnemartin/data-science-ipython-notebooks",
        "5b3c00d462c6e9200315afe46d0093948621eb95",
        "numpy",
        "",
        ["numpy.ipynb"],
    ),
    (
        "donnemartin/data-science-ipython-notebooks",
        "5b3c00d462c6e9200315afe46d0093948621eb95",
        "pandas",
        "data",
        ["pandas.ipynb"],
    ),
    (
        "donnemartin/data-science-ipython-notebooks",
        "5b3c00d462c6e9200315afe46d0093948621eb95",
        "matplotlib",
        "data",
        ["matplotlib.ipynb", "matplotlib-applied.ipynb"],
    ),
    (
        "donnemartin/data-science-ipython-notebooks",
        "5b3c00d462c6e9200315afe46d0093948621eb95",
        "scipy",
        "scipy/first.py scipy/nsfg.py scipy/thinkplot.py scipy/thinkstats2.py"
        " scipy/2002FemPreg.dat.gz scipy/2002FemPreg.dct",
        ["effect_size.ipynb", "hypothesis.ipynb", "sampling.ipynb"],
    ),
]
# Barba et al.'s "Engineering Computations" modules 1 and 5 (the umbrella repository
# engineersCode/EngComp holds them as submodules): strings, lists, files read and written,
# NumPy and a linear regression on temperature data; complex numbers, waves, the Fourier
# transform with the module's helper scripts, wav files, animations. (5's denoising needs
# sounddevice; 1_Untangle_Waves downloads its chord: its later cells fail alike.)
CORPUS += [
    (
        "engineersCode/EngComp1_offtheground",
        "a6fa44f5a526a8ccccd9e91daac80d95ec5df3a5",
        "notebooks_en",
        "data",
        [
            "1_Interacting_with_Python.ipynb",
            "2_Jupyter_strings_and_lists.ipynb",
            "3_Example_play_with_MAEbulletin.ipynb",
            "4_NumPy_Arrays_and_Plotting.ipynb",
            "5_Linear_Regression_with_Real_Data.ipynb",
        ],
    ),
    (
        "engineersCode/EngComp5_surfourier",
        "c3c125804c9fd7c431a4aad1caa9a7475ccdcded",
        "notebooks_en",
        "data scripts images",
        [
            "0_Simpli_Complex.ipynb",
            "1_Untangle_Waves.ipynb",
            "2_But_what_is_the_Fourier_transform.ipynb",
            "Riding_the_wave.ipynb",
            "The_Genesis_of_Fourier.ipynb",
            "jpeg_compression.ipynb",
        ],
    ),
]
# John Wittenauer's notebooks: Andrew Ng's machine-learning exercises in numpy, scipy.optimize
# and pandas (``.mat`` files read with ``loadmat`` from ``data/``, which the notebooks find
# in the folder they run in), and his library tours (``from numpy import *``, ``from pylab
# import *``, statsmodels, seaborn, networkx).
CORPUS += [
    (
        "jdwittenauer/ipython-notebooks",
        "44641e20d6c30c073cde849626a51248632d1381",
        f"notebooks/{folder}",
        f"data=notebooks/{folder}/data",
        [f"{n}.ipynb" for n in names.split()],
    )
    for folder, names in (
        ("ml", " ".join(f"ML-Exercise{n}" for n in (1, 2, 3, 4, 6, 7, 8))),
        ("libraries", "NumPy Pandas SciPy Matplotlib Statsmodels Seaborn NetworkX"),
        ("misc", "DynamicProgramming TimeSeriesStockAnalysis"),
        ("language", "Intro"),
    )
]
# José Unpingco's "Python for Probability, Statistics, and Machine Learning": sympy and
# sympy.stats derivations, scipy.stats sampling and tests, statsmodels regressions, sklearn's
# trees, ensembles, PCA, SVMs and regularization (its first cell shows a cover image three
# folders up, absent from the repository, and fails alike; cvxpy, ``sklearn.cross_validation``
# and ``sklearn.grid_search`` fail alike; the notebooks of one cell are left out).
CORPUS += [
    (
        "unpingco/Python-for-Probability-Statistics-and-Machine-Learning",
        "2794ed09340e8018935fe91ffa30a926f8a07eeb",
        f"chapters/{folder}",
        data,
        [f"{n}.ipynb" for n in names.split()],
    )
    for folder, data, names in (
        (
            "machine_learning/notebooks",
            "",
            "clustering decision_trees ensemble learning_theory logreg pca regularization svm",
        ),
        (
            "probability/notebooks",
            "",
            "Conditional_Expectation_Projection Conditional_expectation_MSE"
            " Conditional_expectation_MSE_Ex Information_Entropy ProbabilityInequalities"
            " Sampling_Monte_Carlo intro moment_generating",
        ),
        (
            "probability/notebooks/src-probability",
            "",
            "MomentGeneratingFunction ProbabilityInequalities Sampling_Monte_Carlo",
        ),
        (
            "statistics/notebooks",
            "chapters/statistics/notebooks/kernel_regression.py",
            "Bootstrap Confidence_Intervals Convergence Curse_of_dimensionality DeltaMethod"
            " Gauss_Markov Hypothesis_Testing Maximum_likelihood Nonparametric Regression"
            " Robust_Statistics maximum_posteriori",
        ),
    )
]

# Added 2026-12-06 morning (corpus helper). Joris Van den Bossche's DS-python-data-analysis
# course, the solved notebooks: pandas 3 on titanic, flow, bike-count and survey data read
# from ``data/`` (the repository's ``notebooks/data``, also at ``../data`` for the workflow
# notebook, which imports ``spreaddiagram`` beside it); case1 writes a zip into ``data/`` and
# reads it back. ``read_excel`` needs openpyxl (not installed: those cells fail alike), and
# three of the largest CSVs are absent from the mirror.
CORPUS += [
    (
        "jorisvandenbossche/DS-python-data-analysis",
        "e1b5adad721f5febbff2c28d98b8b3e01d3b5d84",
        folder,
        data,
        [f"{n}.ipynb" for n in names.split()],
    )
    for folder, data, names in (
        (
            "_solved",
            "notebooks/data=_solved/data notebooks/data=data _solved/spreaddiagram.py",
            "00-jupyter_introduction case1_bike_count case2_observations"
            " case2_observations_analysis case2_observations_processing"
            " case3_bacterial_resistance_lab_experiment case4_air_quality_analysis"
            " case4_air_quality_processing pandas_01_data_structures pandas_02_basic_operations"
            " pandas_03a_selecting_data pandas_03b_indexing pandas_04_time_series_data"
            " pandas_05_groupby_operations pandas_06_data_cleaning pandas_07_missing_values"
            " pandas_08_reshaping_data visualization_01_matplotlib visualization_02_seaborn"
            " workflow_example_evaluation",
        ),
        (
            "_solved/python_intro",
            "",
            "01-variables 02-functions-use 03-containers 04-control-flow 05-functions-write",
        ),
        (
            "_solved/python_recap",
            "_solved/python_recap/data",
            "01-basic 02-control_flow 03-functions 05-numpy",
        ),
    )
]
# jerry-git's learn-python3: pure Python lessons and exercises (strings, dicts, classes,
# exceptions, files under ``../data`` written and read, ``datetime``, ``random``, ``json``,
# ``collections``, idiomatic loops and dicts). The exercises' unsolved asserts fail alike.
CORPUS += [
    (
        "jerry-git/learn-python3",
        "85e30d370ec20618ac27b802c4d35876d7031b67",
        f"notebooks/{level}/{kind}",
        f"notebooks/{level}/data",
        [f"{n}.ipynb" for n in names.split()],
    )
    for level, kind, names in (
        (
            "beginner",
            "notebooks",
            "01_strings 02_numbers 03_conditionals 04_lists 05_dictionaries 06_for_loops"
            " 07_functions 10_file_io 11_classes 12_exceptions 15_std_lib",
        ),
        (
            "beginner",
            "exercises",
            " ".join(
                f"{n}_exercise"
                for n in [
                    "01_strings",
                    "02_numbers",
                    "03_conditionals",
                    "04_lists",
                    "05_dictionaries",
                    "06_for_loops",
                    "07_functions",
                    "09_recap1",
                    "10_file_io",
                    "11_classes",
                    "12_exceptions",
                    "14_debugging",
                    "15_std_lib1",
                    "19_recap2",
                ]
            ),
        ),
        (
            "intermediate",
            "notebooks",
            "01_idiomatic_loops 01_std_lib2 02_idiomatic_dicts 03_idiomatic_misc1"
            " 04_idiomatic_misc2",
        ),
        ("intermediate", "exercises", "01_std_lib2_exercise 05_idiomatic_python_exercise"),
    )
]
# Stony Brook's python-science class (Zingale): classes defined in the notebooks, local
# modules imported (``shopping_cart``, ``vector2d``, ``myprofile``), files written and read,
# numpy, matplotlib styles, scipy (integrate, interpolate, optimize, ``solve_ivp``), sympy's
# ``init_session``, gradient descent by hand.
CORPUS += _lesson_folders(
    "sbu-python-class/python-science",
    "2e2882fbe0759f1baacf2e49107275b10fa5e273",
    "content",
    (
        (
            "01-python",
            "myprofile.py shopping.csv shopping_cart.py test.txt tic_tac_toe.py vector2d.py",
            "python-io w1-python-datatypes w2-python-advanced-datatypes w2-python-control-flow"
            " w2-python-exercises w3-python-exceptions w3-python-exercises w3-python-functions"
            " w4-python-classes w4-python-exercises w4-python-modules w5-python-more-examples",
        ),
        ("02-numpy", "sample.txt", "numpy-advanced numpy-basics numpy-exercises"),
        ("04-matplotlib", "", "matplotlib-basics matplotlib-exercises"),
        ("05-scipy", "", "scipy-basics scipy-basics-2 scipy-exercises scipy-exercises-2"),
        ("06-sympy", "", "integration-simpsons sympy-examples sympy-exercises"),
        ("11-machine-learning", "", "gradient-descent machine-learning-basics"),
    ),
)
# amueller's SciPy 2018 scikit-learn tutorial (of 2018: removed APIs fail alike): the
# ``figures`` helper package and ``helpers.py`` beside the notebooks, titanic and SMS spam
# data in ``datasets/``; the solutions are ``%load``ed (dropped). Not 01 and 09 (no code),
# nor 23 (the IMDb download).
CORPUS.append(
    (
        "amueller/scipy-2018-sklearn",
        "77704111a423c073db83db4648afe27b409aa24f",
        "notebooks",
        "notebooks/datasets notebooks/figures notebooks/helpers.py",
        [
            "02.Scientific_Computing_Tools_in_Python.ipynb",
            "03.Data_Representation_for_Machine_Learning.ipynb",
            "04.Training_and_Testing_Data.ipynb",
            "05.Supervised_Learning-Classification.ipynb",
            "06.Supervised_Learning-Regression.ipynb",
            "07.Unsupervised_Learning-Transformations_and_Dimensionality_Reduction.ipynb",
            "08.Unsupervised_Learning-Clustering.ipynb",
            "10.Case_Study-Titanic_Survival.ipynb",
            "11.Text_Feature_Extraction.ipynb",
            "12.Case_Study-SMS_Spam_Detection.ipynb",
            "13.Cross_Validation.ipynb",
            "14.Model_Complexity_and_GridSearchCV.ipynb",
            "15.Pipelining_Estimators.ipynb",
            "16.Performance_metrics_and_Model_Evaluation.ipynb",
            "17.In_Depth-Linear_Models.ipynb",
            "18.In_Depth-Trees_and_Forests.ipynb",
            "19.Feature_Selection.ipynb",
            "20.Unsupervised_learning-Hierarchical_and_density-based_clustering_algorithms.ipynb",
            "21.Unsupervised_learning-Non-linear_dimensionality_reduction.ipynb",
            "22.Unsupervised_learning-anomaly_detection.ipynb",
        ],
    )
)

# Added 2026-12-06 night (lead). trekhleb's homemade-machine-learning: numpy implementations
# in a local package two folders up (``sys.path.append('../..')``, ``from homemade...``) under
# ``%load_ext autoreload`` / ``%autoreload 2``, data read from ``../../data``; gradient descent
# loops. (Its multivariate linear regression notebook and the MNIST and Fashion-MNIST CSVs
# are absent from the mirror: those four notebooks fail from their data cell on, in every
# run alike.) Chris Albon's notes: the logistic regression recipes (scikit-learn on iris).
CORPUS += [
    (
        "trekhleb/homemade-machine-learning",
        "7510d8e0648077f4acaac6080804c1f9dd588e91",
        f"notebooks/{folder}",
        "data homemade",
        [f"{n}.ipynb" for n in names.split()],
    )
    for folder, names in (
        ("anomaly_detection", "anomaly_detection_gaussian_demo"),
        ("k_means", "k_means_demo"),
        ("linear_regression", "non_linear_regression_demo univariate_linear_regression_demo"),
        (
            "logistic_regression",
            "logistic_regression_with_linear_boundary_demo"
            " logistic_regression_with_non_linear_boundary_demo"
            " multivariate_logistic_regression_demo multivariate_logistic_regression_fashion_demo",
        ),
        ("neural_network", "multilayer_perceptron_demo multilayer_perceptron_fashion_demo"),
    )
]
CORPUS.append(
    (
        "chrisalbon/notes",
        "e735fb06f1bda4b45eb3fa7eb59d2a8f19207acb",
        "content/code/machine_learning/logistic_regression",
        "",
        [
            f"{n}.ipynb"
            for n in [
                "fast_c_hyperparameter_tuning",
                "handling_imbalanced_classes_in_logistic_regression",
                "logistic_regression",
                "logistic_regression_on_very_large_data",
                "logistic_regression_with_l1_regularization",
                "one-vs-rest_logistic_regression",
            ]
        ],
    )
)

# Michael Galarnyk's Python tutorials (blog companions, 2017-2019, no ``%matplotlib inline``
# in most): pandas basics on CSVs in ``data/``, matplotlib's figure and axes syntax, pandas'
# and seaborn's wrappers, plain Python lessons, box plots and logistic regression on the
# Wisconsin breast cancer table and scikit-learn's digits.
CORPUS += [
    (
        "mGalarnyk/Python_Tutorials",
        "d7b6219343a51caca93ca518716d59d7880bf6cf",
        folder,
        data,
        [f"{n}.ipynb" for n in names.split()],
    )
    for folder, data, names in (
        (
            "Pandas",
            "Pandas/data",
            "AggregateFunctions BasicOperations ConvertNumPyArrayDict CreateData ExportCSVExcel"
            " Filtering IdentifyingMissingData IntroPandas LoadData RemoveFillMissingData"
            " RenamingDeletingColumns Slicing",
        ),
        (
            "Visualization",
            "Visualization/data",
            "BasicsMatplotlib Grids Heatmaps Histograms Legends MATLABvsObjectSyntax"
            " MarkerTypeColor MatplotlibWrappersPandasSeaborn SavePlotsFile Subplots"
            " TitlesLabelsLimits",
        ),
        (
            "Python_Basics/Intro",
            "Python_Basics/Intro/word_list.txt",
            "Python3Basics_Part1 Python3Basics_Video1_Blog_Companion"
            " Python3Basics_Video2_Blog_Companion Python3Basics_Video3_Blog_Companion"
            " Python3Basics_Video4_Blog_Companion Python3Basics_Video5_Blog_Companion"
            " Python3Basics_Video6_Blog_Companion PythonBasicsDictionaries PythonBasicsFizzBuzz"
            " PythonBasicsForLoops PythonBasicsFunctions PythonBasicsPrimeNumbers"
            " PythonBasicsTuples PythonBasicsWhileLoop PythonBasicsWordCount",
        ),
        (
            "Statistics/boxplot",
            "Sklearn/Logistic_Regression/data=Statistics/boxplot/data",
            "box_plot Box_plot_interpretation",
        ),
        (
            "Sklearn/Logistic_Regression",
            "Sklearn/Logistic_Regression/data",
            "LogisticRegression LogisticRegression_toy_digits"
            " LogisticRegression_toy_digits_Codementor ExerciseLogisticRegressionSolution",
        ),
    )
]

# Added 2026-12-07 (corpus helper s47). "Machine Learning with PyTorch and Scikit-Learn"
# (rasbt, 2022): the scikit-learn chapters, each reading its data set beside the notebook
# (``shipped``: iris.data, wine.data, AmesHousing.txt). ch06 and ch11 are absent from the
# mirror (its largest files), ch08 needs the IMDb download, ch12 on need torch. ch07's
# xgboost cell and ch09's mlxtend cells fail in every run alike.
CORPUS += [
    (
        "rasbt/machine-learning-book",
        "35ab3774e8e249c43a98209d8efd94c060102003",
        chapter,
        chapter,
        [f"{chapter}.ipynb"],
    )
    for chapter in ("ch02", "ch03", "ch04", "ch05", "ch07", "ch09", "ch10")
]
# Kevin Markham's pandas videos: ``data/`` beside the notebooks. Most of pandas.ipynb's and the
# tricks notebooks' reads are ``http://bit.ly/...`` links (dropped, their cells fail in every
# run alike); pandas_merge and pandas_multiindex read the shipped MovieLens and stocks files.
CORPUS.append(
    (
        "justmarkham/pandas-videos",
        "5b8d4d155374546d87cfb7226307da330ce4098e",
        "",
        "data",
        [
            "pandas.ipynb",
            "pandas_changes.ipynb",
            "pandas_merge.ipynb",
            "pandas_multiindex.ipynb",
            "pandas_tricks.ipynb",
            "top_25_pandas_tricks.ipynb",
            "21_more_pandas_tricks.ipynb",
        ],
    )
)
# Kyubyong's numpy exercises (solutions; some written for Python 2, those cells fail alike):
# one short cell per numpy routine, ``np.save``/``np.savetxt`` files written and read back.
CORPUS.append(
    (
        "Kyubyong/numpy_exercises",
        "cb90db29a15fda02638cb32465c6346abf3ae19e",
        "",
        "",
        [
            "1_Array_creation_routines_Solution.ipynb",
            "2_Array_manipulation_routines_Solutions.ipynb",
            "3_String_operations_solutions.ipynb",
            "4_Numpy-specific_help_functions_Solutions.ipynb",
            "5_Input_and_Output_Solutions.ipynb",
            "6_Linear_algebra_Solutions.ipynb",
            "7_Discrete_Fourier_Transform_solutions.ipynb",
            "8_Logic_functions_Solutions.ipynb",
            "9_Mathematical_functions_solutions.ipynb",
            "10_Random_sampling_Solutions.ipynb",
            "11_Set_routines_Solutions.ipynb",
            "12_Sorting_searching_and_counting_Solutions.ipynb",
            "13_Statistics_solutions.ipynb",
        ],
    )
)
# 100 pandas puzzles (with solutions): small frames built in the notebook, in-place edits.
# Keith Galli's pandas tutorial: the Pokemon table (csv, tab-separated txt; the xlsx read
# needs openpyxl and fails alike), rows filtered, ``to_csv`` files written, chunked reads.
CORPUS += [
    (
        "ajcr/100-pandas-puzzles",
        "457b15f1efc127c6df5171bae34332838a9ffcb0",
        "",
        "",
        ["100-pandas-puzzles-with-solutions.ipynb"],
    ),
    (
        "KeithGalli/pandas",
        "d0025fc924d0eb00aa65a157e5086001fda0b780",
        "",
        "pokemon_data.csv pokemon_data.txt pokemon_data.xlsx",
        ["Pandas Data Science Tutorial.ipynb"],
    ),
]
# The Dask tutorial, the notebooks that run without the network: ``dask.delayed``, a
# ``LocalCluster`` and top-level ``async with`` cells, futures of a ``Client(n_workers=4)``.
# (03's second half reads the flights data ``prep.py`` downloads: it fails in every run alike.)
CORPUS.append(
    (
        "dask/dask-tutorial",
        "3157ed8b751d04da8e1a09bc92e38f0d386423db",
        "",
        "",
        ["03_dask.delayed.ipynb", "04_distributed.ipynb", "05_futures.ipynb"],
    )
)
# Ted Petrou's Pandas Cookbook (2017): pandas 0.20 recipes on ``data/`` (many cells use what
# pandas has since removed: they fail in every run alike). Chapter 10 reads crime.h5, absent.
CORPUS.append(
    (
        "PacktPublishing/Pandas-Cookbook",
        "e3bfd0750df01b30eb778b86f5314f2a1f2eacb0",
        "",
        "data",
        [
            "Chapter 01 Pandas Foundations.ipynb",
            "Chapter 02 Essential DataFrame Operations.ipynb",
            "Chapter 03 Beginning Data Analysis.ipynb",
            "Chapter 04 Selecting Subsets of Data.ipynb",
            "Chapter 05 Boolean Indexing.ipynb",
            "Chapter 06 Index Alignment.ipynb",
            "Chapter 07 Grouping for Aggregation, Filtration and Transformation.ipynb",
            "Chapter 08 Restructuring Data into Tidy Form.ipynb",
            "Chapter 09 Combining Pandas Objects.ipynb",
            "Chapter 11 Visualization with Matplotlib, Pandas and Seaborn.ipynb",
        ],
    )
)
# "A First Course in Network Science" (Menczer, Fortunato, Davis): networkx tutorials reading
# edge lists, adjacency lists and GraphML from ``../datasets``; random graphs, BFS, centrality,
# ``Simulation`` (``simulation.py`` beside). (Chapter 4's need the Twitter API: not listed.)
CORPUS.append(
    (
        "CambridgeUniversityPress/FirstCourseNetworkScience",
        "de9b42e3953ed90616940a801f64489067c1b888",
        "tutorials",
        "datasets tutorials/simulation.py",
        [
            "Appendix - Python Tutorial.ipynb",
            "Chapter 1 Tutorial.ipynb",
            "Chapter 2 Tutorial.ipynb",
            "Chapter 3 Tutorial.ipynb",
            "Chapter 5 Tutorial.ipynb",
            "Chapter 6 Tutorial.ipynb",
            "Chapter 7 Tutorial.ipynb",
        ],
    )
)
# Stefanie Molin's "Hands-On Data Analysis with Pandas" (2nd edition): each chapter's
# ``data/`` beside its notebooks (SQLite databases, CSVs), the book's ``visual_aids`` package
# where a notebook imports it; pandas, matplotlib, seaborn. (The notebooks calling web APIs,
# or importing ``stock_analysis``/``ml_utils``, published separately, are not listed; ch_04's
# weather files are absent from the mirror: their cells fail in every run alike.)
CORPUS += [
    (
        "stefmolin/Hands-On-Data-Analysis-with-Pandas-2nd-edition",
        "2e66ee1078f15aabdc1690700e7468ba73c913e6",
        chapter,
        data,
        [f"{n}.ipynb" for n in names.split()],
    )
    for chapter, data, names in (
        (
            "ch_02",
            "ch_02/data",
            "1-pandas_data_structures 2-creating_dataframes 4-inspecting_dataframes"
            " 5-subsetting_data 6-adding_and_removing_data",
        ),
        (
            "ch_03",
            "ch_03/data",
            "1-wide_vs_long 3-cleaning_data 4-reshaping_data 5-handling_data_issues",
        ),
        (
            "ch_04",
            "ch_04/data ch_04/window_calc.py visual-aids/visual_aids=ch_04/visual_aids",
            "1-querying_and_merging 2-dataframe_operations 3-aggregations 4-time_series",
        ),
        (
            "ch_05",
            "ch_05/data",
            "1-introducing_matplotlib 2-plotting_with_pandas 3-pandas_plotting_module",
        ),
        ("ch_06", "ch_06/data ch_06/viz.py", "1-introduction_to_seaborn 2-formatting_plots"),
        (
            "ch_08",
            "ch_08/logs ch_08/user_data ch_08/simulate.py"
            " visual-aids/visual_aids=ch_08/visual_aids",
            "anomaly_detection",
        ),
        ("ch_09", "ch_09/data", "preprocessing"),
    )
]
# SymPy's example notebooks, at the parent of the commit that removed them (August 2024; run
# with the installed sympy): resultants, integration over polytopes, Fresnel integrals,
# quantum states, spin and traces (sympy.physics.quantum), symbolic expressions as outputs.
CORPUS.append(
    (
        "sympy/sympy",
        "b354658bfd7b863ee59897321d9645efbb9d1f57",
        "examples/notebooks",
        "",
        [
            "Bezout_Dixon_resultant.ipynb",
            "IntegrationOverPolytopes.ipynb",
            "Macaulay_resultant.ipynb",
            "Sylvester_resultant.ipynb",
            "density.ipynb",
            "fidelity.ipynb",
            "fresnel_integrals.ipynb",
            "qubits.ipynb",
            "sho1d_example.ipynb",
            "spin.ipynb",
            "trace.ipynb",
        ],
    )
)

# Added 2026-12-07 (corpus helper, second stop).
# Hands-On Data Analysis with Pandas: chapter 1's Python primer; chapter 8's solutions (the
# two CSVs beside them).
CORPUS += [
    (
        "stefmolin/Hands-On-Data-Analysis-with-Pandas-2nd-edition",
        "2e66ee1078f15aabdc1690700e7468ba73c913e6",
        "ch_01",
        "",
        ["python_101.ipynb"],
    ),
    (
        "stefmolin/Hands-On-Data-Analysis-with-Pandas-2nd-edition",
        "2e66ee1078f15aabdc1690700e7468ba73c913e6",
        "solutions/ch_08",
        "solutions/ch_08/dec_2018_attacks.csv solutions/ch_08/dec_2018_log.csv",
        ["solutions.ipynb"],
    ),
]
# handson-ml3's numpy-only extras: gradient descent variants compared (animations), and the
# differential calculus primer of the third edition.
CORPUS.append(
    (
        "ageron/handson-ml3",
        "e3f3f9e66d58cfa1d068a498433063a1d3fba9ef",
        "",
        "",
        ["extra_gradient_descent_comparison.ipynb", "math_differential_calculus.ipynb"],
    )
)

# Cells dropped before running: they need a shell, the network, a stopwatch or a human.
_DROP = re.compile(
    r"^\s*!|^\s*%%?(time|timeit|prun|lprun|memit|mprun|debug|bash|sh|system|writefile)\b"
    r"|urlopen|urlretrieve|requests\.get|fetch_|load_dataset|datareader|DataReader"
    r"|read_\w+\(\s*['\"]https?:|\binput\(|^\s*\w[\w.]*\?\s*$|^\s*\?|%load\b|%run\b",
    re.M,
)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
# A restore notice after output that did not end its line (``print(i, end=' ')``) starts on
# a line of its own: the newline before it is the notice's. The same text also reads as
# output ending with a newline and a notice after it, so both readings are kept and either
# may match the plain run.
_OPEN_LINE_NOTICE = re.compile(r"(?<=[^\n])\n(?=persist: restored \S+ from .*\n?$)")
# The cache's notices; a restore notice can follow output that did not end its line
# (``print(x, end=' ')``: "2 3 5 7 persist: restored ...").
_NOTICE = re.compile(
    r"^persist: .*\n?|persist: restored \S+ from .*\n?"
    r"|^.*(CellCacheWarning|UnstorableVariableWarning).*\n?",
    re.M,
)

_PROBE_FUNCTION = r"""
def __corpus_probe():
    import hashlib, json, logging, os, sys, types
    shell = get_ipython()
    ns, hidden = shell.user_ns, shell.user_ns_hidden
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")

    def digest(data):
        return hashlib.sha1(data).hexdigest()[:16]

    def name_of(t):
        return f"{t.__module__}.{t.__qualname__}"

    def canon(v, depth=0):
        if depth > 5:
            return "<deep>"
        t = type(v)
        if v is None or t in (bool, int, complex, str, bytes):
            return repr(v)[:2000]
        if t is float:
            return repr(v)
        if isinstance(v, (types.ModuleType,)):
            return f"module {v.__name__}"
        if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, type, types.MethodType)):
            return f"{t.__name__} {getattr(v, '__qualname__', '?')}"
        if np is not None and isinstance(v, np.ndarray):
            head = f"{name_of(t)} {v.dtype} {v.shape} {v.flags['WRITEABLE']}"
            if isinstance(v, np.ma.MaskedArray):
                return head + " data " + canon(v.data, depth + 1) + " mask " + canon(
                    np.ma.getmaskarray(v), depth + 1) + " fill " + repr(v.fill_value)
            if v.dtype.hasobject:
                return head + " " + canon(v.tolist(), depth + 1)
            return head + " " + digest(np.ascontiguousarray(v).tobytes())
        if np is not None and isinstance(v, np.generic):
            return f"{name_of(t)} {v!r}"
        if pd is not None and isinstance(
            v, (pd.Period, pd.Timestamp, pd.Timedelta, pd.Interval, pd.offsets.BaseOffset)
        ):
            # By value: their __dict__ holds only a cache (Period's ``_cache``, filled by
            # reading ``.freq``), which says nothing of the value.
            return f"{name_of(t)} {v!r}"
        if pd is not None and isinstance(v, pd.Index):
            parts = [name_of(t), str(v.dtype), repr(v.names), repr(getattr(v, "freqstr", None))]
            if isinstance(v, pd.MultiIndex):
                parts += [canon(list(lvl), depth + 1) for lvl in v.levels]
                parts.append(canon(np.asarray(v.codes), depth + 1))
            else:
                parts.append(canon(np.asarray(v), depth + 1))
            return " ".join(parts)
        if pd is not None and isinstance(v, pd.Series):
            return " ".join([name_of(t), repr(v.name), str(v.dtype), canon(v.index, depth + 1),
                             canon(v.to_numpy(), depth + 1), repr(v.attrs)])
        if pd is not None and isinstance(v, pd.DataFrame):
            return " ".join([name_of(t), canon(v.index, depth + 1), canon(v.columns, depth + 1),
                             repr(list(map(str, v.dtypes))), repr(v.attrs)]
                            + [canon(v.iloc[:, i].to_numpy(), depth + 1)
                               for i in range(v.shape[1])])
        if isinstance(v, (list, tuple)):
            return f"{name_of(t)}[" + ",".join(canon(x, depth + 1) for x in v[:500]) + f"]{len(v)}"
        if isinstance(v, (set, frozenset)):
            return f"{name_of(t)}{{" + ",".join(sorted(canon(x, depth + 1) for x in v)) + "}"
        if isinstance(v, logging.Manager):
            # logging's registry of every logger, reached from any logger's ``manager``: the
            # loggers someone configured (level, handlers, propagation), with that
            # configuration. A logger with none is one a library made for itself the first
            # time it logged (matplotlib's ``legend`` logger, made when a legend is drawn:
            # not made when the drawing cell was restored); ``getLogger`` makes the same one
            # whenever it is asked for. The cache treats them so too (``_loggers_changed``).
            shown = []
            for key, x in sorted(v.loggerDict.items(), key=lambda item: str(item[0])):
                if not isinstance(x, logging.Logger) or str(key).split(".")[0] == "persist_ext":
                    continue
                kinds = [type(h).__name__ for h in x.handlers]
                if x.level or not x.propagate or x.disabled or set(kinds) - {"NullHandler"}:
                    shown.append(f"{key}:{x.level},{x.propagate},{x.disabled},{kinds}")
            return f"{name_of(t)} root {v.root.level} configured {shown}"
        if isinstance(v, dict):
            # The extension's own logger, made when it loads (logging's registry of every
            # logger, reached from any logger's ``manager``): not the cache's doing.
            items = [(k, x) for k, x in v.items()
                     if not (isinstance(k, str) and k.split(".")[0] == "persist_ext")][:500]
            return f"{name_of(t)}{{" + ",".join(
                f"{canon(k, depth + 1)}:{canon(x, depth + 1)}" for k, x in items) + "}"
        module = t.__module__ or ""
        if module.startswith(("matplotlib", "mpl_toolkits")):
            if hasattr(v, "get_size_inches"):
                return f"{name_of(t)} {v.get_size_inches().tolist()} axes={len(v.axes)}"
            if hasattr(v, "get_xlim"):
                return (f"{name_of(t)} {v.get_xlim()} {v.get_ylim()} {v.get_title()!r} "
                        f"lines={len(v.lines)}")
            return name_of(t)
        if hasattr(v, "get_params") and hasattr(v, "fit"):
            try:
                fitted = {k: x for k, x in vars(v).items() if k.endswith("_")}
                return f"{name_of(t)} {canon(v.get_params(deep=False), depth + 1)} {canon(fitted, depth + 1)}"
            except Exception:
                pass
        state = getattr(v, "__dict__", None)
        if isinstance(state, dict) and depth < 3:
            return f"{name_of(t)} " + canon(state, depth + 1)
        return _ADDR.sub("0x", f"{name_of(t)} {repr(v)[:500]}")

    import re
    _ADDR = re.compile(r"0x[0-9a-fA-F]+")
    names = sorted(
        k for k, v in ns.items()
        if not k.startswith("_") and not (k in hidden and hidden[k] is v)
        and k not in ("In", "Out", "exit", "quit", "get_ipython")
    )
    values = {}
    for k in names:
        try:
            values[k] = canon(ns[k])
        except Exception as exc:
            values[k] = f"<probe failed: {type(exc).__name__}>"
    ident = []
    objs = {id(ns[k]): k for k in reversed(names)}
    for k in names:
        v = ns[k]
        if isinstance(v, (int, float, str, bool, types.ModuleType, type, types.FunctionType)) or v is None:
            continue
        if objs.get(id(v)) != k:
            ident.append(f"{k} is {objs[id(v)]}")
        children = []
        if isinstance(v, (list, tuple)):
            children = [(f"[{i}]", x) for i, x in enumerate(v[:50])]
        elif isinstance(v, dict):
            children = [(f"[{i}]", x) for i, x in enumerate(list(v.values())[:50])]
        for attr in ("base", "figure", "axes", "estimator", "best_estimator_", "steps"):
            try:
                got = getattr(v, attr, None)
            except Exception:
                got = None
            if got is not None and not isinstance(got, (int, float, str, bool)):
                children.append((f".{attr}", got))
        if np is not None and isinstance(v, np.ndarray) and v.base is not None:
            base = v.base
            while isinstance(getattr(base, "base", None), np.ndarray):
                base = base.base
            children.append((".base*", base))
        for label, child in children:
            # As for the variables themselves (above): which str or number object a list
            # holds is no sharing a program can see, except through ``is``.
            if child is None or isinstance(child, (int, float, complex, str, bytes, bool)):
                continue
            other = objs.get(id(child))
            if other is not None and other != k:
                ident.append(f"{k}{label} is {other}")
        cls = type(v)
        if cls.__module__ == "__main__":
            live = ns.get(cls.__name__)
            ident.append(f"{k} instance of live {cls.__name__}: {isinstance(v, live) if isinstance(live, type) else None}")
    if np is not None:
        arrays = [k for k in names if type(ns[k]) is np.ndarray and ns[k].size][:150]
        for i, a in enumerate(arrays):
            for b in arrays[i + 1:]:
                if np.may_share_memory(ns[a], ns[b]):
                    ident.append(f"{a} shares memory with {b}")
    state = {"cwd": os.path.relpath(os.getcwd(), ns.get("__corpus_cwd", "/")), "sys.path": repr([p for p in sys.path if "persist" not in p][:3])}
    state["env"] = digest(repr(sorted((k, v) for k, v in os.environ.items() if k.startswith(("CORPUS", "MPL", "PANDAS")))).encode())
    if np is not None:
        st = np.random.get_state()
        state["numpy.random"] = digest(st[1].tobytes() + repr(st[2:]).encode())
    import random
    state["random"] = digest(repr(random.getstate()).encode())
    mpl = sys.modules.get("matplotlib")
    if mpl is not None:
        state["rcParams"] = digest(repr(sorted((k, repr(v)) for k, v in mpl.rcParams.items())).encode())
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            state["figures"] = repr(len(plt.get_fignums()))
    if pd is not None:
        try:
            state["pandas.options"] = digest(repr(pd.options.display.__dict__).encode()) + repr(
                [pd.get_option(o) for o in ("display.max_rows", "display.precision", "mode.chained_assignment")])
        except Exception:
            pass
    fmt = shell.display_formatter.formatters["text/plain"]
    state["precision"] = repr(fmt.float_precision)
    print("__CORPUS_PROBE__" + json.dumps({"values": values, "ident": sorted(ident), "state": state}))
"""
# The probe runs in a namespace of its own, not the notebook's: a notebook's global named like
# a builtin (ethen8181's ``str = '...'``) would be what the probe's ``isinstance(k, str)`` reads.
PROBE = (
    "__import__('builtins').exec("
    + repr(_PROBE_FUNCTION + "\n__corpus_probe()\n")
    + ", {'get_ipython': __import__('IPython').get_ipython})"
)


@dataclass
class Run:
    """One execution of a notebook variant."""

    cells: list[list[str]] = field(default_factory=list)  # normalized outputs per cell
    errors: list[bool] = field(default_factory=list)  # the cell raised
    tracebacks: list[str] = field(default_factory=list)  # a failing cell's, as shown
    durations: list[float] = field(default_factory=list)
    restored: int = 0
    restored_cells: list[bool] = field(default_factory=list)
    setup: float = 0.0  # the first cell (``%load_ext persist_ext``, or ``pass``): not in seconds
    probe: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # sum of cell execution times
    failure: str = ""  # timeout or dead kernel
    # Per cell, its outputs as they read without the newline a restore notice may start
    # with (:data:`_OPEN_LINE_NOTICE`), or None.
    alternatives: list[list[str] | None] = field(default_factory=list)


def _git(mirror: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(mirror), *args], check=True, capture_output=True
    ).stdout


def _extract(git_dir: Path, commit: str, path: str, target: Path) -> None:
    """``path`` of the repository at ``commit`` written under ``target``.

    A mirror may lack its largest files (pydata-book's ``datasets/fec`` CSV): then the
    files are written one by one and the absent ones left out (the cells reading them fail in
    every run alike).
    """
    try:
        archive = _git(git_dir, "archive", "--format=tar", commit, path)
    except subprocess.CalledProcessError:
        listing = _git(git_dir, "ls-tree", "-r", "-z", commit, "--", path).decode()
        for line in filter(None, listing.split("\0")):
            info, name = line.split("\t", 1)
            try:
                blob = _git(git_dir, "cat-file", "blob", info.split()[2])
            except subprocess.CalledProcessError:
                continue
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(blob)
        return
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def locate(repo: str, mirrors: Iterable[Path], scratch: Path) -> Path:
    """A git directory holding ``repo``: a local mirror, else a clone into ``scratch``.

    A mirror is ``owner+name/repo`` (bare), ``owner+name/repo/.git`` (a clone without its work
    tree, as the fetch tool leaves some), ``owner+name/.git`` or ``owner+name`` (bare).
    """
    slug = repo.replace("/", "+")
    for root in mirrors:
        for candidate in (
            root / slug / "repo",
            root / slug / "repo" / ".git",
            root / slug / ".git",
            root / slug,
        ):
            if (candidate / "HEAD").exists() or (candidate / "objects").is_dir():
                return candidate
    target = scratch / "clones" / slug
    if not target.exists():
        subprocess.run(
            ["git", "clone", "--bare", f"https://github.com/{repo}", str(target)], check=True
        )
    return target


def _png_size(data: str) -> str:
    import base64

    raw = base64.b64decode(data[:64])
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        width, height = struct.unpack(">II", raw[16:24])
        return f"{width}x{height}"
    return "?"


def _pixels(data: Any) -> str:
    """A digest of an image as shown: two renderings of one figure give the same bytes."""
    text = data if isinstance(data, str) else json.dumps(data)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


# matplotlib 3.6 renamed the seaborn styles these notebooks ask for ('seaborn-whitegrid').
_STYLE = re.compile(r"""(['"])seaborn(-(?!v0_8)[\w-]+)?\1""")


# The authors' own offline alternative to a download: "un-comment the following line of code to
# load the dataset from a local path: # df = pd.read_csv('wine.data', header=None)".
_LOCAL_ALTERNATIVE = re.compile(r"^#\s*((\w+)\s*=\s*pd\.read_csv\(\s*'[^'/:]+'.*\))\s*$", re.M)


# A path under the working folder spelled for Windows: ``os.getcwd() + '\\data\\ex1data1.txt'``
# (jdwittenauer's ML exercises) names, elsewhere, a file of the folder above whose name holds
# backslashes.
_WINDOWS_PATH = re.compile(r"""(os\.getcwd\(\)\s*\+\s*)(['"])((?:\\[\w.-]+)+)\2""")


# Names a repository's own modules import that IPython has since moved: without them every
# cell after ``from preamble import *`` fails alike, and nothing is compared.
_MOVED = [
    (
        re.compile(r"^from IPython\.display import set_matplotlib_formats, display$", re.M),
        "from matplotlib_inline.backend_inline import set_matplotlib_formats\n"
        "from IPython.display import display",
    ),
]


def modernize(folder: Path) -> None:
    """The Python files extracted under ``folder`` importing names from where they are now.

    The one rewrite of a repository's files (not its notebooks): ``IPython.display``'s
    ``set_matplotlib_formats``, removed in IPython 8, is ``matplotlib_inline``'s.
    """
    for path in folder.rglob("*.py"):
        text = path.read_text(errors="replace")
        changed = text
        for pattern, replacement in _MOVED:
            changed = pattern.sub(replacement, changed)
        if changed != text:
            path.write_text(changed)


def offline(source: str) -> str:
    """``source`` with a download replaced by the local read the notebook offers in a comment.

    ``df = pd.read_csv('https://...')`` followed by ``# df = pd.read_csv('wdbc.data', ...)``
    becomes the second line un-commented; any other cell is returned unchanged.
    """
    alternative = _LOCAL_ALTERNATIVE.search(source)
    if alternative is None:
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [ast.unparse(t) for t in node.targets] == [alternative[2]]
            and isinstance(node.value, ast.Call)
            and node.value.args
            and isinstance(node.value.args[0], ast.Constant)
            and str(node.value.args[0].value).startswith(("http:", "https:"))
        ):
            lines = source.splitlines(keepends=True)
            start, end = node.lineno - 1, node.end_lineno or node.lineno
            lines[start:end] = [alternative[1] + "\n"]
            return "".join(lines)
    return source


def shipped(source: str, local: dict[str, str]) -> str:
    """``source`` with ``pd.read_csv('https://.../name', ...)`` reading ``name`` from the repository.

    Also ``url = 'https://.../name'`` followed by ``pd.read_csv(url)`` in the same cell.

    Only when the repository ships that file where the notebook runs (``local``: file name ->
    its path relative to the notebook), as rasbt's ch07 and ch10 do (``wine.data``,
    ``housing.data.txt``) without offering the commented alternative :func:`offline` uses.
    """
    if not local or "http" not in source:
        return source
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    edits = []
    reads = [
        node.args[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("read_csv", "read_table")
        and node.args
    ]
    # ``url = 'https://.../name'`` then ``pd.read_csv(url)`` in the same cell (pandas_exercises).
    read_names = {arg.id for arg in reads if isinstance(arg, ast.Name)}
    urls = [arg for arg in reads if isinstance(arg, ast.Constant)] + [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in read_names
        and isinstance(node.value, ast.Constant)
    ]
    for url in urls:
        if (
            str(url.value).startswith(("http:", "https:"))
            and str(url.value).rsplit("/", 1)[-1] in local
        ):
            edits.append((url, local[str(url.value).rsplit("/", 1)[-1]]))
    for arg, path in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        end_line, end_col = (arg.end_lineno or arg.lineno) - 1, arg.end_col_offset or 0
        head = lines[arg.lineno - 1][: arg.col_offset]
        tail = lines[end_line][end_col:]
        lines[arg.lineno - 1 : end_line + 1] = [head + repr(path) + tail]
    return "".join(lines)


def _executed(source: str) -> str:
    """``source`` with its top-level ``def``/``class`` statements blanked.

    Defining ``fetch_housing_data`` needs no network; calling it does (a cell of its own,
    dropped). The cell that defines it also sets ``HOUSING_PATH``, which later cells read.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        code = TransformerManager().transform_cell(source)
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return source
    lines = source.splitlines()
    if len(code.splitlines()) != len(lines):
        return source
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            for i in range(first - 1, node.end_lineno or node.lineno):
                lines[i] = ""
    return "\n".join(lines)


def prepare(sources: list[str], local: dict[str, str] | None = None) -> list[str]:
    """Code cells the corpus runs (cells needing a shell, the network or a stopwatch dropped).

    A cell is dropped when what it runs needs them (a function it only defines does not).
    Four rewrites, nothing else: a download the notebook offers a commented local alternative
    for uses that alternative (:func:`offline`), a download of a file the repository ships
    beside the notebook reads that file (:func:`shipped`), style names renamed by
    matplotlib are spelled as today, and a Windows path under ``os.getcwd()`` is spelled
    with slashes.
    """
    local = local or {}
    rewritten = [
        _WINDOWS_PATH.sub(lambda m: m[1] + m[2] + m[3].replace("\\", "/") + m[2], s)
        for s in (shipped(offline(s), local) for s in sources)
    ]
    kept = [s for s in rewritten if s.strip() and not _DROP.search(_executed(s))]
    return [_STYLE.sub(lambda m: f"{m[1]}seaborn-v0_8{m[2] or ''}{m[1]}", s) for s in kept]


def find_edit(sources: list[str]) -> tuple[int, str, str] | None:
    """The first integer literal ≥ 2 assigned in the first half of the notebook: (cell, old, new)."""
    from IPython.core.inputtransformer2 import TransformerManager

    for index, source in enumerate(sources[: max(2, len(sources) // 2)]):
        try:
            # A cell starting with ``%matplotlib inline`` is parsed as IPython runs it; the
            # edit is made only on a line the transformation left as it was (below).
            code = TransformerManager().transform_cell(source)
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        if len(code.splitlines()) != len(source.splitlines()):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assign):
                continue
            for const in ast.walk(node.value):
                if (
                    isinstance(const, ast.Constant)
                    and type(const.value) is int
                    and const.value >= 2
                ):
                    lines = source.splitlines(keepends=True)
                    line = lines[const.lineno - 1]
                    if line.rstrip("\n") != code.splitlines()[const.lineno - 1]:
                        continue  # a line IPython rewrites: its offsets are not the cell's
                    # The AST's offsets count UTF-8 bytes (Babylonian digits' cuneiform).
                    raw = line.encode()
                    start, end = const.col_offset, const.end_col_offset or const.col_offset
                    lines[const.lineno - 1] = (
                        raw[:start].decode() + str(const.value + 1) + raw[end:].decode()
                    )
                    return index, source, "".join(lines)
    return None


def build(sources: list[str], cached: bool) -> Any:
    import nbformat

    # Where the run started, so the probe compares the working directory relative to it.
    start = "__corpus_cwd = __import__('os').getcwd()"
    setup = "%load_ext persist_ext\n"
    if os.environ.get("CORPUS_MIN_TIME"):  # --min-time: not the default policy
        setup += f"%config PersistMagics.min_time = {float(os.environ['CORPUS_MIN_TIME'])}\n"
    cells = [setup + start if cached else start]
    for source in sources:
        if cached and not source.lstrip().startswith("%%"):
            cells.append("%%persist\n" + source)
        else:
            cells.append(source)
    cells.append(PROBE)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in cells]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


# A cell's file: per kernel in a warning, and in a SyntaxError's message (``(1409450514.py,
# line 4)``), whose name is another under ``%%persist`` than plain.
_KERNEL_FILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py|(?<=\()\d+\.py(?=, line \d+\))")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _normalize(text: str, folder: str = "") -> str:
    """``text`` without notices, addresses and cell files; ``folder`` (the run's) as ``<run>``.

    Each variant runs in a folder of its own, so a path into it (a local module's frame in a
    traceback, mglearn's ``DATA_PATH``) differs between them and says nothing.
    """
    text = _KERNEL_FILE.sub("<cell>", _ADDRESS.sub("0x", _NOTICE.sub("", text)))
    return text.replace(folder, "<run>") if folder else text


def _merged_streams(outputs: list[Any]) -> list[Any]:
    """Writes to one stream as one output (at its first place), other outputs in order.

    How a stream is split into messages depends on flush timing (``print`` writes its text
    and its newline apart), and so does the interleaving of stdout with stderr (a warning
    printed between two ``print`` calls): neither is a difference.
    """
    merged: list[Any] = []
    for output in outputs:
        last = next(
            (
                i
                for i, m in enumerate(merged)
                if m.output_type == "stream"
                and output.output_type == "stream"
                and m.name == output.name
            ),
            None,
        )
        if last is not None:
            merged[last] = type(output)(
                output_type="stream", name=output.name, text=merged[last].text + output.text
            )
        else:
            merged.append(output)
    # Which of stdout and stderr reaches the front end first is flush timing too (a
    # warning, then a print, arrive either way round under load): two streams with no
    # other output between them are put stdout first. (A display flushes both streams
    # before it is sent, so the order around displays is kept.)
    streams = [i for i, m in enumerate(merged) if m.output_type == "stream"]
    if len(streams) == 2 and streams[1] == streams[0] + 1:
        pair = merged[streams[0] : streams[1] + 1]
        merged[streams[0] : streams[1] + 1] = sorted(pair, key=lambda m: m.name != "stdout")
    return merged


def execute(sources: list[str], cached: bool, cwd: Path, timeout: float) -> Run:
    from nbclient import NotebookClient

    notebook = build(sources, cached)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
        record_timing=True,
    )
    run = Run()
    folder = str(cwd.resolve())
    started = time.monotonic()
    try:
        client.execute()
    except Exception as exc:  # a timeout or a dead kernel: a hang
        run.failure = f"{type(exc).__name__}: {str(exc)[:200]}"
    run.seconds = 0.0
    run.setup = _cell_seconds(notebook.cells[0]) if notebook.cells else 0.0
    for cell in notebook.cells[1:-1]:
        parts: list[str] = []
        alternative: list[str] | None = None
        raised = False
        restored = False
        shown_traceback = ""
        for output in _merged_streams(cell.get("outputs", [])):
            kind = output.output_type
            if kind == "stream":
                if "persist: restored" in output.text:
                    run.restored += 1
                    restored = True
                text = _normalize(output.text, folder)
                if cached and _OPEN_LINE_NOTICE.search(output.text):
                    joined = _normalize(_OPEN_LINE_NOTICE.sub("", output.text), folder)
                    alternative = [*parts, f"{output.name}:{joined}"]
                if text.strip():
                    parts.append(f"{output.name}:{text}")
            elif kind == "error":
                raised = True
                parts.append(f"error:{output.ename}:{_normalize(output.evalue, folder)}")
                # Compared apart from the outputs: cell numbers (In[n]), frames and lines.
                shown_traceback = _normalize(_ANSI.sub("", "\n".join(output.traceback)), folder)
            else:
                data = output.get("data", {})
                images = [
                    f"{m}:{_png_size(data[m]) if m == 'image/png' else ''}:{_pixels(data[m])}"
                    for m in sorted(data)
                    if m.startswith("image/")
                ]
                others = sorted(
                    f"{m}:{_pixels(_normalize(str(data[m]), folder))}" if m == "text/html" else m
                    for m in data
                    if not m.startswith("image/") and m != "text/plain"
                )
                parts.append(
                    f"{kind}{images}{others}:{_normalize(data.get('text/plain', ''), folder)}"
                )
        if alternative is not None:  # the outputs after the notice's stream, as they are
            alternative += parts[len(alternative) :]
        run.alternatives.append(alternative)
        run.cells.append(parts)
        run.errors.append(raised)
        run.tracebacks.append(shown_traceback)
        run.restored_cells.append(restored)
        run.durations.append(_cell_seconds(cell))
    run.seconds = sum(run.durations) or (time.monotonic() - started)
    if cached and any("Cell magic `%%persist` not found" in " ".join(c) for c in run.cells):
        run.failure = "persist_ext did not load in the kernel (was the checkout being changed?)"
    for output in notebook.cells[-1].get("outputs", []):
        if output.output_type == "stream" and "__CORPUS_PROBE__" in output.text:
            payload = output.text.split("__CORPUS_PROBE__", 1)[1]
            # Values holding the run's folder (an absolute path made from ``__file__``).
            run.probe = json.loads(payload.splitlines()[0].replace(folder, "<run>"))
    if not run.probe and not run.failure:
        run.failure = "probe missing: " + repr(notebook.cells[-1].get("outputs", [])[:1])[:300]
    return run


def _cell_seconds(cell: Any) -> float:
    """From the kernel receiving the cell to its reply (nbclient's execution metadata)."""
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        begin = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return (end - begin).total_seconds()


def _probe_items(probe: dict[str, Any]) -> dict[str, str]:
    items = {f"var {k}": v for k, v in probe.get("values", {}).items()}
    items.update({f"state {k}": v for k, v in probe.get("state", {}).items()})
    for line in probe.get("ident", []):
        items[f"ident {line}"] = "yes"
    return items


def compare(plain: Run, noise: Run, other: Run, label: str) -> list[str]:
    """Silent differences of ``other`` against ``plain`` (where ``noise`` agrees with plain).

    A run cut short (a timeout, a kernel that died or never started) is a hang, counted as
    one: what it did not get to show is not counted again as differences.
    """
    if other.failure:
        return []
    found = []
    for index, (want, got) in enumerate(zip(plain.cells, other.cells)):
        if want != got and plain.cells[index] == noise.cells[index]:
            if index < len(other.alternatives) and other.alternatives[index] == want:
                continue  # the newline a restore notice starts with (_OPEN_LINE_NOTICE)
            if other.errors[index] and not plain.errors[index]:
                continue  # counted as a new failure
            found.append(
                f"{label} cell {index + 1} outputs: plain {str(want)[:300]!r} vs {str(got)[:300]!r}"
            )
    a, b, c = _probe_items(plain.probe), _probe_items(noise.probe), _probe_items(other.probe)
    for key in sorted(set(a) | set(c)):
        if a.get(key) != c.get(key) and a.get(key) == b.get(key):
            found.append(f"{label} {key}: " + _first_difference(str(a.get(key)), str(c.get(key))))
    return found


def _first_difference(want: str, got: str, width: int = 200) -> str:
    """``plain ... vs ...``: the two texts from a little before where they first differ."""
    at = next((i for i, (x, y) in enumerate(zip(want, got)) if x != y), min(len(want), len(got)))
    start = max(0, at - 60)
    lead = "..." if start else ""
    return f"plain {lead}{want[start : start + width]!r} vs {lead}{got[start : start + width]!r}"


def traceback_differences(plain: Run, noise: Run, other: Run, label: str) -> list[str]:
    """Cells failing in both runs whose tracebacks differ (where the plain runs agree)."""
    found = []
    for index, (want, got) in enumerate(zip(plain.tracebacks, other.tracebacks)):
        if want and got and want != got and want == noise.tracebacks[index]:
            first = next(
                (f"{a!r} vs {b!r}" for a, b in zip(want.splitlines(), got.splitlines()) if a != b),
                "lengths differ",
            )
            found.append(f"{label} cell {index + 1} traceback: {first[:300]}")
    return found


def new_failures(plain: Run, noise: Run, other: Run, label: str) -> list[str]:
    """Cells raising in ``other`` only, not in ``plain`` nor in its re-run ``noise``.

    The second plain run re-runs the notebook in the first one's folder, as the warm and the
    edited runs re-run it in the cold one's: a cell failing on what the first run left there
    (pydata-book ch06's ``CREATE TABLE test`` in ``mydata.sqlite``: "table test already
    exists") fails in a plain re-run too.
    """
    return [
        f"{label} cell {i + 1}: {' '.join(other.cells[i])[:300]}"
        for i in range(min(len(plain.errors), len(noise.errors), len(other.errors)))
        if other.errors[i]
        and not plain.errors[i]
        and not noise.errors[i]
        # The runner's own interrupt of a cell past --timeout (counted as a hang): whether
        # it is recorded as the cell's error depends on when it lands.
        and not (
            other.failure and any(p.startswith("error:KeyboardInterrupt:") for p in other.cells[i])
        )
    ]


def copy_data(copies: list[tuple[str, str]], folder: Path) -> None:
    """Make ``folder`` and put each of a notebook's data there (``load_corpus``'s copies):
    at its place relative to the notebook."""
    folder.mkdir(parents=True, exist_ok=True)
    for source, place in copies:
        if Path(source).is_file():  # one file (a helper module) beside it
            shutil.copy2(source, folder / place)
        elif Path(source).is_dir():
            shutil.copytree(source, folder / place, dirs_exist_ok=True)
        # else: not in the repository at that commit (a data file kept elsewhere): the
        # notebook's cells reading it fail alike in every run, as they would for a reader.


def run_notebook(
    job: tuple[str, list[tuple[str, str]], list[str], str, float],
) -> dict[str, Any]:
    """Run one notebook's six variants; a JSON-able summary."""
    name, copies, sources, scratch, timeout = job
    work = Path(scratch) / "runs" / name.replace("/", "_")
    shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {"notebook": name, "cells": len(sources)}
    try:
        dirs = {}
        variants = ("plain", "plain_third", "cached", "plain_edit", "plain_edit_twin")
        for variant in variants:
            d = work / variant
            copy_data(copies, d)
            dirs[variant] = d
        edit = find_edit(sources)
        edited_sources = list(sources)
        if edit is not None:
            edited_sources[edit[0]] = edit[2]
            result["edit"] = (
                f"cell {edit[0] + 1}: {edit[1].strip()[:60]!r} -> {edit[2].strip()[:60]!r}"
            )
        plain = execute(sources, False, dirs["plain"], timeout)
        # The second plain run re-runs the notebook in the first one's folder, as the warm
        # run re-runs it in the cold run's: what a cell finds left there by the first run
        # (``%%file`` printing "Overwriting" rather than "Writing") is no difference.
        noise = execute(sources, False, dirs["plain"], timeout)
        cold = execute(sources, True, dirs["cached"], timeout)
        warm = execute(sources, True, dirs["cached"], timeout)
        plain_edit = execute(edited_sources, False, dirs["plain_edit"], timeout)
        cached_edit = execute(edited_sources, True, dirs["cached"], timeout)
        runs = {
            "plain": plain,
            "noise": noise,
            "cold": cold,
            "warm": warm,
            "plain_edit": plain_edit,
            "cached_edit": cached_edit,
        }
        result["hangs"] = [f"{k}: {r.failure}" for k, r in runs.items() if r.failure]
        silent = compare(plain, noise, cold, "cold") + compare(plain, noise, warm, "warm")
        mask = noise  # what differs from ``plain`` here is nondeterministic
        if silent:
            # Two plain runs can agree by chance (an unseeded GaussianMixture's labels, one
            # permutation of four): before calling it silent, a third plain run. What differs
            # between it and the first is nondeterministic, and listed as such, not dropped.
            third = execute(sources, False, dirs["plain_third"], timeout)
            noise_third = _mask_like(noise, plain, third)
            mask = noise_third
            kept = compare(plain, noise_third, cold, "cold") + compare(
                plain, noise_third, warm, "warm"
            )
            result["nondeterministic"] = [d for d in silent if d not in kept]
            silent = kept
        # After the edit the plain run has no twin: what was nondeterministic in the original
        # notebook (the two plain runs, or the third one, differ) is taken as nondeterministic
        # after the edit too.
        edited_noise = _mask_like(plain_edit, plain, mask)
        edited = compare(plain_edit, edited_noise, cached_edit, "edited")
        if edited:
            # Before calling it silent, the edited plain run gets its twin after all: what
            # differs between the two is nondeterministic too (unseeded random numbers whose
            # histogram limits happened to agree between the two original plain runs).
            twin = execute(edited_sources, False, dirs["plain_edit_twin"], timeout)
            result["edited_twin"] = len(edited)
            edited = compare(
                plain_edit, _mask_like(edited_noise, plain_edit, twin), cached_edit, "edited"
            )
        silent += edited
        result["silent"] = silent
        result["new_failures"] = (
            new_failures(plain, noise, cold, "cold")
            + new_failures(plain, noise, warm, "warm")
            + new_failures(plain_edit, _mask_like(plain_edit, plain, mask), cached_edit, "edited")
        )
        result["traceback_differences"] = traceback_differences(
            plain, noise, cold, "cold"
        ) + traceback_differences(plain, noise, warm, "warm")
        result["plain_errors"] = sum(plain.errors)
        result["restored_warm"] = warm.restored
        result["restored_edit"] = cached_edit.restored
        result["seconds"] = {k: round(r.seconds, 3) for k, r in runs.items()}
        result["setup_seconds"] = {k: round(r.setup, 3) for k, r in runs.items()}
        # Per cell, for finding where a run loses time: milliseconds, and R for a restore.
        result["cell_ms"] = {k: [round(d * 1000, 1) for d in r.durations] for k, r in runs.items()}
        result["restored_cells"] = {
            k: "".join("R" if x else "." for x in r.restored_cells)
            for k, r in runs.items()
            if k in ("warm", "cached_edit")
        }
    except Exception:
        result["crash"] = traceback.format_exc()[-2000:]
    result["load"] = round(os.getloadavg()[0], 2)  # the machine's 1-minute load after it
    return result


def _mask_like(target: Run, plain: Run, noise: Run) -> Run:
    """``target`` with the cells and values where the two original plain runs differ blanked.

    The edited plain run has no twin; a cell or value that was nondeterministic in the original
    notebook is taken as nondeterministic after the edit too.
    """
    masked = Run(
        cells=list(target.cells),
        errors=list(target.errors),
        probe=json.loads(json.dumps(target.probe)),
    )
    for index in range(min(len(plain.cells), len(noise.cells), len(masked.cells))):
        if plain.cells[index] != noise.cells[index]:
            masked.cells[index] = ["<nondeterministic>"]
        if plain.errors[index] != noise.errors[index]:
            masked.errors[index] = True  # whether it fails is not reproducible: not counted new
    a, b = plain.probe, noise.probe
    for section in ("values", "state"):
        for key in set(a.get(section, {})) | set(b.get(section, {})):
            if a.get(section, {}).get(key) != b.get(section, {}).get(key):
                masked.probe.setdefault(section, {})[key] = "<nondeterministic>"
    ident_a, ident_b = set(a.get("ident", [])), set(b.get("ident", []))
    masked.probe["ident"] = sorted(set(masked.probe.get("ident", [])) - (ident_a ^ ident_b))
    return masked


def load_corpus(
    mirrors: list[Path], scratch: Path, only: list[str], max_cells: int | None = None
) -> list[tuple[str, list[tuple[str, str]], list[str]]]:
    """Per notebook: its label, data to copy (extracted path, place beside it), cells.

    An entry's data field names one path of the repository, or several separated by spaces
    (wesm/pydata-book reads both ``examples/`` and ``datasets/``). ``max_cells``: only the
    notebook's first code cells, as published (before :func:`prepare` drops any).
    """
    import nbformat

    jobs = []
    for repo, commit, folder, data, names in CORPUS:
        chosen = []
        for name in names:
            label = f"{repo.split('/')[1]}/{folder + '/' if folder and folder != 'notebooks' else ''}{name}"
            if not only or any(o in label for o in only):
                chosen.append((label, name))
        if not chosen:  # nothing of it asked for: not cloned, nothing extracted
            continue
        git_dir = locate(repo, mirrors, scratch)
        copies: list[tuple[str, str]] = []
        # Files the repository ships where the notebook runs, by name: path from the notebook.
        local: dict[str, str] = {}
        for spec in data.split():
            # ``SRC=PLACE``: the repository's ``SRC`` copied to ``PLACE`` (both paths of the
            # repository), where a module of it looks (mglearn's ``mglearn/data``).
            one, _, where = spec.partition("=")
            target = scratch / "data" / repo.replace("/", "+") / commit[:12] / one.replace("/", "+")
            if not target.exists():
                target.mkdir(parents=True)
                _extract(git_dir, commit, one, target)
                modernize(target)
            place = os.path.relpath(where or one, folder or ".")
            copies.append((str(target / one), place))
            if (target / one).is_dir():
                for entry in sorted((target / one).iterdir()):
                    if entry.is_file():
                        local[entry.name] = os.path.normpath(os.path.join(place, entry.name))
        for label, name in chosen:
            path = f"{folder}/{name}" if folder else name
            text = _git(git_dir, "show", f"{commit}:{path}").decode()
            if name.endswith(".md"):  # a MyST notebook (numpy-tutorials): jupytext reads it
                import jupytext

                notebook = jupytext.reads(text, fmt="md:myst")
            else:
                notebook = nbformat.reads(text, as_version=4)
            code = [c.source for c in notebook.cells if c.cell_type == "code"]
            sources = prepare(code[:max_cells], local)
            jobs.append((label, copies, sources))
    return jobs


def compile_bytecode(*checkouts: str | None) -> None:
    """Write the ``.pyc`` files of the persist_ext the kernels import (this one, and each
    checkout given), as ``pip install`` does for an installed package.

    An editable install or a checkout on ``PYTHONPATH`` has none until an import writes
    them, and never with ``PYTHONDONTWRITEBYTECODE`` set (as it is on these machines):
    every kernel would then compile persist_ext from source (~15 ms for the store's modules
    alone, ~100 ms for ``%load_ext``), a cost no installed copy pays, while numpy and pandas,
    installed, are read from their ``.pyc``.
    """
    import compileall

    import persist_ext

    folders = {Path(persist_ext.__file__).parent}
    folders.update(Path(c) / "persist_ext" for c in checkouts if c)
    for folder in folders:
        compileall.compile_dir(str(folder), quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__)
    parser.add_argument(
        "--mirror", action="append", type=Path, default=[], help="folder of git mirrors"
    )
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/corpus"))
    parser.add_argument("--jobs", "-j", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per cell")
    parser.add_argument("--json", type=Path, help="write the per-notebook results here")
    parser.add_argument(
        "--min-time",
        type=float,
        help="PersistMagics.min_time for the cached runs (default: unset, the automatic "
        "run-or-restore policy); 0 stores and restores every cell, cheap ones too",
    )
    parser.add_argument(
        "--max-cells",
        type=int,
        help="run only each notebook's first N code cells (as published): for notebooks "
        "whose last sections take an hour (handson-ml2 02's exercise searches)",
    )
    parser.add_argument(
        "only", nargs="*", help="run only notebooks whose name contains one of these"
    )
    args = parser.parse_args(argv)
    args.scratch.mkdir(parents=True, exist_ok=True)
    if args.min_time is not None:  # read by build() in the worker processes
        os.environ["CORPUS_MIN_TIME"] = str(args.min_time)
    corpus = load_corpus(args.mirror, args.scratch, args.only, args.max_cells)
    compile_bytecode()
    jobs = [
        (label, copies, sources, str(args.scratch), args.timeout)
        for label, copies, sources in corpus
    ]
    results = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for result in pool.map(run_notebook, jobs):
            results.append(result)
            _print_one(result)
            sys.stdout.flush()
            if args.json:  # after each notebook: a run cut short still leaves its results
                args.json.write_text(json.dumps(results, indent=1))
    print(summary(results))
    return 0


def _print_one(result: dict[str, Any]) -> None:
    out = io.StringIO()
    if "crash" in result:
        print(f"## {result['notebook']}: runner crashed\n{result['crash']}", file=out)
    else:
        s = result["seconds"]
        print(
            f"## {result['notebook']}: {result['cells']} cells, restored warm {result['restored_warm']}, "
            f"silent {len(result['silent'])}, new failures {len(result['new_failures'])}, "
            f"tracebacks differing {len(result.get('traceback_differences', []))}, "
            f"hangs {len(result['hangs'])}; plain {s['plain']:.2f}s cold {s['cold']:.2f}s warm {s['warm']:.2f}s "
            f"edit {s['plain_edit']:.2f}/{s['cached_edit']:.2f}s; {result.get('edit', 'no edit')}",
            file=out,
        )
        for line in result.get("nondeterministic", []):
            print("    nondeterministic (a third plain run differs too):", line, file=out)
        for line in (
            result["silent"]
            + result["new_failures"]
            + result.get("traceback_differences", [])
            + result["hangs"]
        ):
            print("   ", line, file=out)
    print(out.getvalue(), end="")


def summary(results: list[dict[str, Any]]) -> str:
    done = [r for r in results if "crash" not in r]
    speed = [r["seconds"]["plain"] / r["seconds"]["warm"] for r in done if r["seconds"]["warm"] > 0]
    cold = [r["seconds"]["cold"] / r["seconds"]["plain"] for r in done if r["seconds"]["plain"] > 0]
    lines = [
        f"notebooks {len(results)} (runner crashes {len(results) - len(done)}), "
        f"cells {sum(r['cells'] for r in done)}",
        f"restored warm {sum(r['restored_warm'] for r in done)}, after edit {sum(r['restored_edit'] for r in done)}",
        f"silent differences {sum(len(r['silent']) for r in done)} (and "
        f"{sum(len(r.get('nondeterministic', [])) for r in done)} where a third plain run "
        "differed too: nondeterministic), "
        f"new failures {sum(len(r['new_failures']) for r in done)}, hangs {sum(len(r['hangs']) for r in done)}, "
        f"failing cells with another traceback than plain "
        f"{sum(len(r.get('traceback_differences', [])) for r in done)} "
        f"(of {sum(r.get('plain_errors', 0) for r in done)} failing plain)",
    ]
    if speed:
        lines.append(
            f"warm speedup (plain/warm) median {statistics.median(speed):.2f}x worst {min(speed):.2f}x "
            f"best {max(speed):.2f}x; "
            f"cold overhead (cold/plain) median {statistics.median(cold):.2f}x worst {max(cold):.2f}x"
        )
        total = {k: sum(r["seconds"][k] for r in done) for k in done[0]["seconds"]}
        lines.append(
            "whole corpus: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in total.items())
            + "; slower warm than plain: "
            + (
                ", ".join(
                    f"{r['notebook'].split('/')[-1]} {r['seconds']['plain'] / r['seconds']['warm']:.2f}x"
                    for r in done
                    if r["seconds"]["warm"] > r["seconds"]["plain"]
                )
                or "none"
            )
        )
        setup = [r["setup_seconds"]["cold"] for r in done if "setup_seconds" in r]
        if setup:
            lines.append(
                f"%load_ext persist_ext cell (not in the run times): median {statistics.median(setup) * 1000:.0f} ms"
            )
    lines += time_breakdown(done)
    loads = [r["load"] for r in results if "load" in r]
    if loads:
        lines.append(
            f"machine load (1 min, after each notebook): median {statistics.median(loads):.1f}, "
            f"max {max(loads):.1f} on {os.cpu_count()} cores"
        )
    return "\n".join(lines)


def time_breakdown(done: list[dict[str, Any]]) -> list[str]:
    """Where the cached runs gain or lose time against plain, summed over the corpus.

    Per cell, against the quicker of the two plain runs: the first cell (it opens the store
    and loads the extension's machinery: a fixed cost per kernel), the cells the warm run
    restored (the cold run stored them: what storing cost, what restoring saved), and the
    cells that ran in both (the fixed cost of every ``%%persist`` cell, plus on the cold run
    what deciding to run it cost).
    """
    sums = dict.fromkeys(("first", "stored", "ran"), (0.0, 0.0))
    per_cell: dict[str, list[float]] = {"cold ran": [], "warm ran": []}
    counts = dict.fromkeys(sums, 0)
    for r in done:
        if "cell_ms" not in r or "restored_cells" not in r:
            continue
        ms, warm_restored = r["cell_ms"], r["restored_cells"]["warm"]
        cells = zip(ms["plain"], ms["noise"], ms["cold"], ms["warm"], warm_restored)
        for index, (plain, noise, cold, warm, restored) in enumerate(cells):
            base = min(plain, noise)
            kind = "first" if index == 0 else "stored" if restored == "R" else "ran"
            sums[kind] = (sums[kind][0] + cold - base, sums[kind][1] + warm - base)
            counts[kind] += 1
            if kind == "ran":
                per_cell["cold ran"].append(cold - base)
                per_cell["warm ran"].append(warm - base)
    if not counts["ran"]:
        return []
    return [
        "time against plain (s, cold / warm): "
        + "; ".join(
            f"{kind} cells ({counts[kind]}) {cold / 1000:+.1f} / {warm / 1000:+.1f}"
            for kind, (cold, warm) in sums.items()
        )
        + f"; a cell that ran, median ms: cold {statistics.median(per_cell['cold ran']):+.1f},"
        f" warm {statistics.median(per_cell['warm ran']):+.1f}"
    ]


if __name__ == "__main__":
    sys.exit(main())
