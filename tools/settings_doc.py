#!/usr/bin/env python3
"""Write the section "Settings refused with NotSupported" of docs/compatibility.md from the
rules Shoal applies (``src/shoal/engine/support.py``), so the document cannot drift from them.

    python tools/settings_doc.py          # rewrite the section (create the file if missing)
    python tools/settings_doc.py --check  # exit 1 if the section is out of date

Only that section is touched: the rest of the file (other sections, before and after it)
is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "compatibility.md"
TITLE = "## Settings refused with NotSupported"

sys.path.insert(0, str(ROOT / "src"))

from shoal.engine import support  # noqa: E402

# Where each schema's fields appear in a request, as a path prefix.
WHERE = {
    "CreateCollection": "",
    "VectorParams": "vectors.",
    "MultiVectorConfig": "vectors.multivector_config.",
    "SparseVectorParams": "sparse_vectors.<name>.",
    "SparseIndexParams": "sparse_vectors.<name>.index.",
    "PayloadStorageParams": "payload.",
    "HnswConfigDiff": "hnsw_config.",
    "WalConfigDiff": "wal_config.",
    "OptimizersConfigDiff": "optimizers_config.",
    "ScalarQuantizationConfig": "quantization_config.scalar.",
    "ShoalQuantization": "quantization_config.shoal.",
    "StrictModeConfig": "strict_mode_config.",
    "SearchParams": "params.",
    "QuantizationSearchParams": "params.quantization.",
    "AcornSearchParams": "params.acorn.",
    "NearestQuery": "query.",
    "PointsList": "",
}
REQUEST = {
    "CreateCollection": "create collection",
    "SearchParams": "query",
    "NearestQuery": "query",
    "PointsList": "upsert",
}
INDEX = "payload index"
SKIP = {"PointsBatch"}  # the same rules as PointsList


def _value(value: Any) -> str:
    return "`" + json.dumps(value) + "`"


def _request(schema: str) -> str:
    if schema in support.INDEX_PARAMS.values():
        return INDEX
    if schema in REQUEST:
        return REQUEST[schema]
    return REQUEST["SearchParams" if WHERE[schema].startswith("params") else "CreateCollection"]


def _rows() -> tuple[list[str], list[str], list[str]]:
    """Table rows of refused settings; settings accepted with any value; honoured ones."""
    refused, any_value, honoured = [], [], []
    seen = set()
    for schema, rules in support.RULES.items():
        if schema in SKIP:
            continue
        index_kind = next((k for k, v in support.INDEX_PARAMS.items() if v == schema), None)
        for name, rule in rules.items():
            common = index_kind is not None and support.INDEX_COMMON.get(name) is rule
            if common and name in seen:
                continue
            seen.add(name) if common else None
            if index_kind is not None:
                path = f"field_schema.{name}" + ("" if common else f" ({index_kind})")
            else:
                path = WHERE[schema] + name
            row = (_request(schema), path)
            if isinstance(rule, support.Only):
                if {type(v) for v in rule.values} == {bool} and len(rule.values) == 2:
                    any_value.append(f"`{path}` ({rule.why})")
                    continue
                accepted = ", ".join(_value(v) for v in rule.values) or "—"
                refused.append(f"| {row[0]} | `{row[1]}` | {accepted} | {rule.why} |")
            elif rule is support.HONOURED:
                honoured.append(f"`{path}`")
    for kind, rule in support.QUANTIZATION.variants.items():
        if isinstance(rule, support.Only):
            refused.append(f"| create collection | `quantization_config.{kind}` | — | {rule.why} |")
    for name, why in support.QUERY_FIELDS_NOT_YET.items():
        refused.append(f"| query | `{name}` | — | {why} |")
    return refused, any_value, honoured


def section() -> str:
    """The section's text, from its title to the end of its last line."""
    refused, any_value, honoured = _rows()
    kinds = [*support.QUERY_KINDS_NOT_YET.values()]
    lines = [
        TITLE,
        "",
        "Every field of Qdrant's request models parses, so a valid Qdrant request never gets",
        "a bare validation error; a setting Shoal does not honour is then refused with",
        "`shoal.errors.NotSupported` (HTTP 400 in Qdrant's error envelope; Shoal's HTTP client",
        "raises `NotSupported` too) whose message names the field, e.g.",
        "`Wrong input: hnsw_config.on_disk=true is not supported: Shoal keeps it in memory",
        "(accepted: false)`. Nothing is accepted and dropped. Where values are listed as",
        "accepted, sending one of them (Qdrant's default, or what Shoal does anyway) is",
        "harmless; any other value is refused. The `hnsw_config` and `quantization_config`",
        "rules apply at the collection and at each vector (`vectors.hnsw_config...`).",
        "",
        "This section is generated from `src/shoal/engine/support.py` by",
        "`python tools/settings_doc.py`; `tests/server/test_settings_walk.py` walks Qdrant's",
        "OpenAPI spec and checks every field against it, on the embedded client, Shoal's HTTP",
        "client and raw HTTP.",
        "",
        "| request | field | accepted values | why |",
        "|---|---|---|---|",
        *refused,
        "",
        "Query kinds and vector inputs refused, each named: "
        + ", ".join(f"`{k}`" for k in kinds)
        + ".",
        "",
        "`shard_key` is refused in every other request too (scroll, count, retrieve, payload",
        "updates, deletes, batch operations): Shoal has one shard.",
        "",
        "Client arguments refused: `create_collection(id_tracker=...)`; `upload_points` and",
        "`upload_collection` with `parallel` other than 1 or a `method` (batches are sent one",
        "after another; `max_retries` is honoured for transient failures).",
        "",
        "Accepted with either value, changing nothing: " + "; ".join(any_value) + ".",
        "",
        "Honoured (shown by `get_collection`, or changing what the engine does): "
        + ", ".join(honoured)
        + ". `metadata` is stored with the collection and returned in `config.metadata`.",
    ]
    return "\n".join(lines) + "\n"


def updated(text: str) -> str:
    """``text`` (the whole document) with the section replaced, or appended if missing."""
    new = section()
    start = text.find(TITLE + "\n")
    if start < 0:
        return (text.rstrip("\n") + "\n\n" if text.strip() else "") + new
    end = text.find("\n## ", start + len(TITLE))
    rest = "" if end < 0 else text[end + 1 :]
    return text[:start] + new + ("\n" + rest if rest else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the section is stale")
    args = parser.parse_args()
    current = DOC.read_text() if DOC.exists() else ""
    wanted = updated(current)
    if args.check:
        if current != wanted:
            print(f"{DOC.relative_to(ROOT)}: section {TITLE!r} is out of date; run {__file__}")
            return 1
        return 0
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(wanted)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
