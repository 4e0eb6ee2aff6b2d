"""Text payload index settings through `shoal serve` over a real socket: the table of
expected full-text matches (tests/text_index_table.py) answered over HTTP, settings shown in
Qdrant's wire shape, and refusals as Qdrant's 400 envelope naming the setting."""

from __future__ import annotations

import httpx
from server_support import Recorder, ServerProcess, http_client
from text_index_table import run_table


def test_table_of_matches_over_http(served: ServerProcess, recorder: Recorder) -> None:
    # recorder: every request and response is checked against Qdrant's OpenAPI spec.
    http = httpx.Client(base_url=served.url, event_hooks=recorder.hooks)
    with http, http_client(served.url, http) as client:
        assert run_table(client, "text-table") == []


def test_index_settings_on_the_wire(served: ServerProcess, recorder: Recorder) -> None:
    params = {"type": "text", "stopwords": "english", "phrase_matching": True}
    with httpx.Client(base_url=served.url, event_hooks=recorder.hooks) as http:
        body = {"vectors": {"size": 2, "distance": "Dot"}}
        assert http.put("/collections/text-wire", json=body).status_code == 200
        points = {"points": [{"id": 1, "vector": [1, 0], "payload": {"t": "The cat sat"}}]}
        assert http.put("/collections/text-wire/points?wait=true", json=points).is_success
        index = {"field_name": "t", "field_schema": params}
        assert http.put("/collections/text-wire/index?wait=true", json=index).is_success
        info = http.get("/collections/text-wire").json()["result"]
        assert info["payload_schema"]["t"] == {
            "data_type": "text",
            "params": {**params, "tokenizer": "word"},
            "points": 1,
        }
        phrase = {"filter": {"must": [{"key": "t", "match": {"phrase": "the cat sat"}}]}}
        assert http.post("/collections/text-wire/points/count", json=phrase).json()["result"] == {
            "count": 1
        }

        bad = {"field_name": "u", "field_schema": {"type": "text", "ascii_folding": True}}
        refused = http.put("/collections/text-wire/index", json=bad)
        assert refused.status_code == 400
        message = refused.json()["status"]["error"]
        assert "field_schema.ascii_folding" in message and "not supported" in message
        assert set(http.get("/collections/text-wire").json()["result"]["payload_schema"]) == {"t"}
