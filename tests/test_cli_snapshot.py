"""``shoal snapshot create | list | restore`` on a storage folder and against a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from threaded_server import serve_in_thread

from shoal import Client, models
from shoal.cli import main
from shoal.engine import Database

VEC = models.VectorParams(size=2, distance="Dot")


def make(folder: Path, collections: dict[str, int]) -> None:
    with Client(path=folder) as client:
        for name, n in collections.items():
            client.create_collection(name, VEC)
            points = [models.PointStruct(id=i, vector=[1.0, i], payload={"i": i}) for i in range(n)]
            client.upsert(name, points)


def counts(folder: Path) -> dict[str, int]:
    with Client(path=folder) as client:
        names = [c.name for c in client.get_collections().collections]
        return {name: client.count(name).count for name in sorted(names)}


def snapshot(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["snapshot", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_full_snapshot_restores_into_another_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    make(source, {"c": 3, "d": 5})
    status, out, _ = snapshot(["create", "--path", str(source)], capsys)
    assert status == 0 and out.startswith("full-")
    name = out.split("\t")[0]
    status, listed, _ = snapshot(["list", "--path", str(source)], capsys)
    assert status == 0 and listed.split("\t")[0] == name
    make(source, {"e": 1})  # after the snapshot: not in it
    file = source / "snapshots" / name
    status, out, _ = snapshot(["restore", "--path", str(target), str(file)], capsys)
    assert status == 0 and out.strip() == "restored: c, d"
    assert counts(target) == {"c": 3, "d": 5}


def test_collection_snapshot_restores_under_another_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make(tmp_path, {"c": 4})
    status, out, _ = snapshot(["create", "--path", str(tmp_path), "--collection", "c"], capsys)
    assert status == 0
    file = tmp_path / "snapshots" / "c" / out.split("\t")[0]
    args = ["restore", "--path", str(tmp_path), "--collection", "copy", str(file)]
    assert snapshot(args, capsys)[0] == 0
    assert counts(tmp_path) == {"c": 4, "copy": 4}


def test_a_bad_file_fails_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make(tmp_path / "data", {"c": 2})
    bogus = tmp_path / "bogus.snapshot"
    bogus.write_bytes(b"not a tar")
    status, _, err = snapshot(["restore", "--path", str(tmp_path / "data"), str(bogus)], capsys)
    assert status == 1 and "not a Shoal snapshot" in err
    status, _, err = snapshot(
        ["list", "--path", str(tmp_path / "data"), "--collection", "x"], capsys
    )
    assert status == 1 and "x" in err
    assert counts(tmp_path / "data") == {"c": 2}


def test_against_a_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make(tmp_path, {"c": 3})
    db = Database(tmp_path)
    try:
        with serve_in_thread(db) as url:
            args = ["create", "--url", url, "--collection", "c"]
            status, out, _ = snapshot(args, capsys)
            assert status == 0
            location = "c/" + out.split("\t")[0]
            args = ["restore", "--url", url, "--collection", "again", location]
            assert snapshot(args, capsys) == (0, "restored: again\n", "")
            assert db.collection("again").count(models.CountRequest()).count == 3
    finally:
        db.close()


def test_a_file_is_uploaded_to_a_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make(tmp_path / "here", {"c": 5})
    status, out, _ = snapshot(
        ["create", "--path", str(tmp_path / "here"), "--collection", "c"], capsys
    )
    assert status == 0
    file = tmp_path / "here" / "snapshots" / "c" / out.split("\t")[0]
    bogus = tmp_path / "bogus.snapshot"
    bogus.write_bytes(b"no tar at all")
    db = Database(tmp_path / "there")
    try:
        with serve_in_thread(db) as url:
            args = ["restore", "--url", url, "--collection", "up", str(file)]
            assert snapshot(args, capsys) == (0, "restored: up\n", "")
            assert db.collection("up").count(models.CountRequest()).count == 5
            status, _, err = snapshot(
                ["restore", "--url", url, "--collection", "up", str(bogus)], capsys
            )
            assert status == 1 and "not a Shoal snapshot" in err
            assert db.collection("up").count(models.CountRequest()).count == 5
    finally:
        db.close()
