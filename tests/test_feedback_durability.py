"""JudgmentStore under concurrency, kill -9 and damaged files. Each test prints its figures (-s shows them)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.judgments import Judgment, JudgmentStore, JudgmentStoreError
from tests.conftest import ROOT

# Children import only core.judgments (stdlib + sqlite3), so each starts in well under 100 ms.
WRITER = """
import sys
from core.judgments import Judgment, JudgmentStore
store = JudgmentStore(sys.argv[1])
start, n = int(sys.argv[2]), int(sys.argv[3])
i = start
while n < 0 or i < start + n:
    rid = store.add(Judgment("relevant", f"запрос {i}", f"ответ {i} " + "текст " * 40, user=f"u{start}",
                    query_prefix="query: ", passage_prefix="passage: "))
    sys.stdout.write(f"{rid} {i}\\n")
    sys.stdout.flush()
    i += 1
"""


def _child(db, start: int, n: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(start), str(n)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _acknowledged(output: bytes) -> dict[int, int]:
    """id -> i for every complete line a writer printed (a line cut by the kill does not count)."""
    acked = {}
    for line in output.split(b"\n")[:-1]:
        rid, i = line.split()
        acked[int(rid)] = int(i)
    return acked


def sizes(location: str, sqlite: tuple[int, ...], postgresql: tuple[int, ...]) -> tuple[int, ...]:
    """The SQLite run keeps its measured sizes; the PostgreSQL run checks the same behaviour on fewer
    (a PostgreSQL child process starts slower, and the suite has minutes, not more)."""
    return postgresql if "://" in location else sqlite


@pytest.mark.slow
def test_32_threads_x_100_adds(store_location):
    threads, per_thread = sizes(store_location, (32, 100), (16, 25))
    store = JudgmentStore(store_location)
    barrier = threading.Barrier(threads)

    def work(t: int) -> list[int]:
        barrier.wait()
        return [store.add(Judgment("relevant", f"запрос {t}-{i}", f"ответ {t}-{i}", user=f"t{t}"))
                for i in range(per_thread)]

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        ids = [rid for chunk in pool.map(work, range(threads)) for rid in chunk]  # re-raises any error
    elapsed = time.perf_counter() - began
    rows = store.rows()
    print(f"\n[threads] {threads} threads x {per_thread} adds: {len(ids)} ids, {len(rows)} rows, "
          f"{len(set(r['content_hash'] for r in rows))} distinct hashes, {elapsed:.1f} s "
          f"({len(ids) / elapsed:.0f} adds/s)")
    assert len(ids) == len(set(ids)) == threads * per_thread
    assert len(rows) == threads * per_thread == store.count()
    assert {r["id"] for r in rows} == set(ids)
    assert len({r["content_hash"] for r in rows}) == len(rows)
    assert store.integrity_check() == "ok"
    store.close()


def test_same_judgment_from_many_threads_is_one_record(store_location):
    store = JudgmentStore(store_location)
    barrier = threading.Barrier(16)

    def click(_: int) -> int:
        barrier.wait()
        return store.add(Judgment("score", "запрос", "ответ", score=5, user="alice"))

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(click, range(16)))
    assert len(set(ids)) == 1 and store.count() == 1
    store.close()


@pytest.mark.slow
def test_4_processes_x_250_adds(store_location):
    processes, per_process = sizes(store_location, (4, 250), (2, 50))
    db = store_location
    JudgmentStore(db).close()
    began = time.perf_counter()
    children = [_child(db, p * 1_000_000, per_process) for p in range(processes)]
    acked: dict[int, int] = {}
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode()
        assert b"locked" not in err
        acked.update(_acknowledged(out))
    elapsed = time.perf_counter() - began
    with JudgmentStore(db) as store:
        rows = store.rows()
        print(f"\n[processes] {processes} processes x {per_process} adds: {len(acked)} ids, {len(rows)} rows, "
              f"{elapsed:.1f} s")
        assert len(acked) == len(rows) == processes * per_process
        assert {r["id"] for r in rows} == set(acked)
        assert len({r["content_hash"] for r in rows}) == len(rows)
        assert store.integrity_check() == "ok"


@pytest.mark.slow
def test_kill_9_mid_write_loses_no_acknowledged_add(store_location):
    trials = sizes(store_location, (50,), (3,))[0]
    db = store_location
    rng = random.Random(1234)
    acked_total, cut_lines = 0, 0
    began = time.perf_counter()
    for trial in range(trials):
        child = _child(db, trial * 1_000_000, -1)
        first = child.stdout.readline()  # the writer is now adding in a loop
        assert first, child.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.06))
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()
        child.wait()
        assert child.returncode == -signal.SIGKILL
        output = first + rest
        cut_lines += not output.endswith(b"\n")
        acked = _acknowledged(output)
        acked_total += len(acked)
        with JudgmentStore(db) as store:
            assert store.integrity_check() == "ok"
            for rid, i in acked.items():
                rec = store.get(rid)
                assert rec is not None, f"trial {trial}: acknowledged id {rid} is missing"
                assert rec["anchor"] == f"запрос {i}"
    elapsed = time.perf_counter() - began
    with JudgmentStore(db) as store:
        rows = store.count()
        integrity = store.integrity_check()  # SQLite: the full PRAGMA integrity_check
    print(f"\n[kill -9] {trials} trials: {acked_total} acknowledged adds, all present; {rows} rows "
          f"(committed but unacknowledged: {rows - acked_total}); {cut_lines} outputs cut mid-line; "
          f"integrity_check={integrity}; {elapsed:.1f} s")
    assert integrity == "ok"
    assert rows >= acked_total


def _assert_refused_untouched(path, content: bytes) -> None:
    with pytest.raises(JudgmentStoreError) as info:
        JudgmentStore(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert path.read_bytes() == content
    assert not path.with_name(path.name + "-wal").exists()


@pytest.mark.sqlite_only
def test_garbage_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "feedback.sqlite"
    content = random.Random(0).randbytes(8192)
    path.write_bytes(content)
    _assert_refused_untouched(path, content)


@pytest.mark.sqlite_only
def test_text_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "feedback.sqlite"
    content = "id,anchor\n1,это не база данных\n".encode()
    path.write_bytes(content)
    _assert_refused_untouched(path, content)


@pytest.mark.sqlite_only
def test_sqlite_header_with_garbage_body_is_refused_and_untouched(tmp_path):
    path = tmp_path / "feedback.sqlite"
    content = b"SQLite format 3\x00" + random.Random(1).randbytes(4096)
    path.write_bytes(content)
    _assert_refused_untouched(path, content)


@pytest.mark.sqlite_only
def test_damaged_pages_are_reported(tmp_path):
    path = tmp_path / "feedback.sqlite"
    with JudgmentStore(path) as store:
        store.import_records({"kind": "relevant", "anchor": f"запрос {i}", "positive": "ответ " * 30}
                             for i in range(300))
        store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page:2 * page + 512] = random.Random(2).randbytes(512)  # smash a b-tree page header
    path.write_bytes(bytes(data))
    with pytest.raises(JudgmentStoreError, match=str(path)):
        JudgmentStore(path)


@pytest.mark.sqlite_only
def test_directory_and_missing_store(tmp_path):
    with pytest.raises(JudgmentStoreError, match="is a directory"):
        JudgmentStore(tmp_path)
    with pytest.raises(JudgmentStoreError, match="no feedback store at"):
        JudgmentStore(tmp_path / "missing.sqlite", create=False)
    assert not (tmp_path / "missing.sqlite").exists()


@pytest.mark.sqlite_only
def test_foreign_sqlite_table_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY, text TEXT)")
    conn.commit()
    conn.close()
    content = path.read_bytes()
    with pytest.raises(JudgmentStoreError, match="not a USER Studio store"):
        JudgmentStore(path)
    assert path.read_bytes() == content
