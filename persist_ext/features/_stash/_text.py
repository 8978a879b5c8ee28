"""File-name helpers of zensols.persist: :class:`FileTextUtil`.

Turns free text (a title, a task name) into a name that is safe and readable on any file
system. For names that must stay unique and reversible use
:func:`persist_ext.storage._names.safe_name` instead; this is the seed's lossy, readable one.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

__all__ = ["FileTextUtil"]

# Runs of blanks and punctuation become one replacement character.
_SEPARATORS = re.compile(r"""[\s\\\[\]()/<>{}:;_`'"|!@#$%^&*~?,+=.-]+""")


class FileTextUtil:
    """Normalize text and paths into file-system-friendly names (the seed's API).

    Examples
    --------
    >>> FileTextUtil.normalize_text("Results of Run #3 (final).csv")
    'results-of-run-3-final-csv'
    >>> str(FileTextUtil.normalize_path(Path("~/My Data/run.1")))
    '~/my-data/run-1'
    """

    @classmethod
    def normalize_text(
        cls,
        name: str,
        replace_char: str = "-",
        lower: bool = True,
        regex: re.Pattern[str] | None = None,
        remove_non_printable: bool = False,
    ) -> str:
        """Replace each run of separators in ``name`` by ``replace_char``, trimmed at both ends.

        Parameters
        ----------
        name : the text to normalize.
        replace_char : what a run of separators becomes.
        lower : lowercase the result.
        regex : the separators (default: blanks and punctuation).
        remove_non_printable : keep only printable ASCII characters.
        """
        text = name.lower() if lower else name
        text = (regex or _SEPARATORS).sub(replace_char, text)
        if replace_char:
            text = text.strip(replace_char)
        if remove_non_printable:
            text = "".join(char for char in text if char in string.printable)
        return text

    @classmethod
    def normalize_path(
        cls,
        path: Path,
        replace_char: str = "-",
        lower: bool = True,
        regex: re.Pattern[str] | None = None,
        remove_non_printable: bool = False,
    ) -> Path:
        """Apply :meth:`normalize_text` to each part of ``path`` except the root and ``~``."""

        def part(text: str) -> str:
            if text in (path.anchor, "~") and text:
                return text
            return cls.normalize_text(text, replace_char, lower, regex, remove_non_printable)

        return Path(*(part(text) for text in path.parts))
