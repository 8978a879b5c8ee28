# The names README's "A taste" cell uses, as a notebook would define them (run as a cell by
# tests/unit/test_docs_promises.py and tests/kernel/test_docs_notebook.py). Model keeps
# `self.frame`: an attribute named like the notebook variable the cell defines.
import time

alpha = 0.5


def expensive_load(path):
    time.sleep(0.3)
    return open(path).read().splitlines()


class Model:
    def __init__(self, frame, alpha):
        self.frame, self.alpha = frame, alpha

    def plot(self):
        print("plotted", self.alpha, len(self.frame))


def fit(frame, alpha):
    return Model(frame, alpha)
