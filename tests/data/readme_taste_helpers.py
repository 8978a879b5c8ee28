# The names README's "A taste" cell uses, as a notebook would define them (run as a cell by
# tests/unit/test_docs_promises.py and tests/kernel/test_docs_notebook.py). Model keeps
# `self.frame`: an attribute named like the notebook variable the cell defines.
import time

alpha = 0.5


def expensive_load(path):
    # Longer than opening the store takes on a busy machine: a cell cheaper to run than that
    # is run rather than restored (the automatic policy). With 0.3 s, the README cell ran
    # instead of being restored once in a kernel-tier run at a load average of ~4, most
    # likely for that reason (not reproduced since).
    time.sleep(1.0)
    return open(path).read().splitlines()


class Model:
    def __init__(self, frame, alpha):
        self.frame, self.alpha = frame, alpha

    def plot(self):
        print("plotted", self.alpha, len(self.frame))


def fit(frame, alpha):
    return Model(frame, alpha)
