"""How to install one of Shoal's optional extras, in a command that works where it came from.

Shoal is not published on PyPI, so a hint never asks pip for a distribution called shoal
from an index. It runs pip with the interpreter Shoal runs on, so the packages land where
Shoal is, and names what pip can find: the checkout Shoal was installed from
(``pip install -e '.[server]'``), else the extra's requirements as recorded in Shoal's
installed metadata. Base floor: imports nothing of shoal.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "shoal"


def install_hint(extra: str, missing: str | None) -> str:
    """The sentence that tells a user how to get an extra.

    Args:
        extra: the extra's name in pyproject.toml (``server``, ``langchain``).
        missing: the module whose import failed, if known.

    Returns:
        For example ``needs the server extra (uvicorn is missing); install it with:
        /venv/bin/python -m pip install -e '.[server]'``.
    """
    why = f" ({missing} is missing)" if missing else ""
    return f"needs the {extra} extra{why}; install it with: {install_command(extra)}"


def install_command(extra: str) -> str:
    """A shell command that installs ``extra`` for the running Shoal.

    Args:
        extra: the extra's name.

    Returns:
        ``<python> -m pip install ...``: the checkout Shoal was installed from with the extra
        (editable if Shoal is), or the extra's requirements, or, for a source tree run
        without installing, that tree.
    """
    pip = f"{shlex.quote(sys.executable)} -m pip install"
    try:
        dist: importlib.metadata.Distribution | None = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        checkout, editable = _checkout(dist)
        if checkout is not None:
            return f"{pip} {'-e ' if editable else ''}{_target(checkout, extra)}"
        requirements = _requirements(dist, extra)
        if requirements:
            return f"{pip} " + " ".join(shlex.quote(r) for r in requirements)
    tree = Path(__file__).resolve().parents[2]
    if (tree / "pyproject.toml").is_file():
        return f"{pip} -e {_target(tree, extra)}"
    return f"{pip} <the packages listed under [{extra}] in Shoal's pyproject.toml>"


def _checkout(dist: importlib.metadata.Distribution) -> tuple[Path | None, bool]:
    """The local folder Shoal was installed from (PEP 610 direct_url.json), if it is still
    a project folder, and whether the install is editable."""
    try:
        info = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        return None, False
    if not isinstance(info, dict) or "dir_info" not in info:
        return None, False  # an index, an archive or a VCS URL: no folder to point at
    url = urlparse(str(info.get("url", "")))
    folder = Path(unquote(url.path))
    if url.scheme != "file" or not (folder / "pyproject.toml").is_file():
        return None, False
    return folder, bool(info["dir_info"].get("editable", False))


def _requirements(dist: importlib.metadata.Distribution, extra: str) -> list[str]:
    """The requirements Shoal's metadata lists for ``extra``, without their markers."""
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    found = []
    for requirement in dist.requires or []:
        spec, _, markers = requirement.partition(";")
        if marker.search(markers):
            found.append(spec.strip())
    return found


def _target(folder: Path, extra: str) -> str:
    try:
        here = Path.cwd()
    except OSError:  # the working directory was deleted
        here = None
    shown = "." if folder == here else str(folder)
    return shlex.quote(f"{shown}[{extra}]")
