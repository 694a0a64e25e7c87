"""The command line's two output streams: results on stdout, notes and errors on stderr.

Each line is flushed at once, so a caller reading a pipe (a script, the end-to-end tests)
sees progress as it happens.
"""

from __future__ import annotations

import sys


def out_line(text: str = "") -> None:
    """Write ``text`` and a newline to stdout (a command's result) and flush."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err_line(text: str) -> None:
    """Write ``text`` and a newline to stderr (a note or an error) and flush."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
