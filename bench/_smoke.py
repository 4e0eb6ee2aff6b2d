"""``--smoke`` for every benchmark script: tiny sizes that run the whole code path in
seconds, so that CI (``.ci/run``) proves each script still works without timing anything."""

from __future__ import annotations

import argparse
from typing import Any


def parse_args(
    ap: argparse.ArgumentParser, smoke: dict[str, Any], argv: list[str] | None = None
) -> argparse.Namespace:
    """Parse the command line; with ``--smoke``, ``smoke`` replaces the defaults.

    Options given on the command line still win over the smoke sizes.

    Args:
        ap: the script's parser (``--smoke`` is added to it).
        smoke: option destinations and their smoke-test values.
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    ap.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks the code path in seconds"
    )
    known, _ = ap.parse_known_args(argv)
    if known.smoke:
        ap.set_defaults(**smoke)
    return ap.parse_args(argv)
