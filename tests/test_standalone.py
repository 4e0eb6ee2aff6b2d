"""The repository stands alone: nothing in src/, tests/ or bench/ reads the team's shared
folder that sits beside a developer's checkout, because a user's clone does not have it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("src", "tests", "bench")
# Folders that hold generated or local files, never the repository's own.
SKIPPED_DIRS = {"__pycache__", "results"}

# Ways a file can point at the shared folder: a relative or absolute path in text, or a
# path joined from parts. The bare word "shared" is ordinary prose and code, not a path.
SHARED_PATH = re.compile(
    r"""\.\./shared\b"""  # ../shared, ../../shared/...
    r"""|/work/shared\b"""  # the team machine's absolute path
    r"""|\bshared/reference\b"""  # shared/reference/...
    r"""|["']\.\.["']\s*/\s*["']shared["']"""  # Path(...) / ".." / "shared"
    r"""|["']shared["']\s*/\s*["']reference["']"""  # ... / "shared" / "reference"
)


def files_to_check() -> list[Path]:
    """Every file under the checked folders except this one and generated files."""
    out = []
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*")):
            parts = set(path.relative_to(ROOT).parts)
            if (
                path.is_file()
                and not parts & SKIPPED_DIRS
                and not any(p.startswith(".") for p in parts)
                and path.suffix != ".pyc"
                and path != Path(__file__).resolve()
            ):
                out.append(path)
    return out


def shared_references(path: Path) -> list[str]:
    """``line: text`` for every line of ``path`` that refers to the shared folder."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return [
        f"{number}: {line.strip()[:120]}"
        for number, line in enumerate(text.splitlines(), 1)
        if SHARED_PATH.search(line)
    ]


def test_nothing_refers_to_the_shared_folder() -> None:
    found = {
        str(path.relative_to(ROOT)): refs
        for path in files_to_check()
        if (refs := shared_references(path))
    }
    assert not found, f"files that refer to the shared folder beside the checkout: {found}"


def test_the_pattern_tells_paths_from_prose(tmp_path: Path) -> None:
    flagged = [
        'SPEC = Path(__file__).parents[2] / ".." / "shared" / "reference" / "x.json"',
        'REFERENCE = ROOT.parent / "shared" / "reference"',
        "see ../shared/reference/vectors.py",
        "python bench/x.py /work/shared/reference/vectors.py",
    ]
    ordinary = [
        "the lock's shared side",
        "a shared storage folder",
        'uri = str(tmp_path / "shared")',
        "self._shared = 0",
        '"shared_by": "all"',
    ]
    sample = tmp_path / "sample.py"
    sample.write_text("\n".join(flagged + ordinary) + "\n")
    assert [int(ref.split(":")[0]) for ref in shared_references(sample)] == [1, 2, 3, 4]


def test_the_checked_folders_are_the_repository_s() -> None:
    checked = {str(p.relative_to(ROOT)) for p in files_to_check()}
    assert "tests/data/qdrant-openapi.json" in checked
    assert "src/shoal/__init__.py" in checked
    assert "tests/test_standalone.py" not in checked
