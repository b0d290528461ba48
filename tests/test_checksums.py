"""The checksum lock: record once, verify later, update on request, no lost writes."""

import multiprocessing
import os

import pytest

from steps.checksums import (HEADER, ChecksumError, LockFileError, check_or_record,
                             format_lock, read_lock)

A = "a" * 64
B = "b" * 64
C = "c" * 64


@pytest.fixture
def lock(tmp_path):
    return str(tmp_path / "zoo" / "checksums.lock")


def test_first_fetch_records(lock):
    assert check_or_record(lock, "net_a.tar.gz", A) == "recorded"
    assert open(lock).read() == HEADER + f"net_a.tar.gz {A}\n"


def test_later_fetch_matches(lock):
    check_or_record(lock, "net_a.tar.gz", A)
    before = os.stat(lock).st_ino
    assert check_or_record(lock, "net_a.tar.gz", A.upper()) == "matched"
    assert os.stat(lock).st_ino == before  # a match does not rewrite


def test_mismatch_is_refused_with_a_clear_message(lock):
    check_or_record(lock, "net_a.tar.gz", A)
    with pytest.raises(ChecksumError) as e:
        check_or_record(lock, "net_a.tar.gz", B)
    msg = str(e.value)
    assert "net_a.tar.gz" in msg and A in msg and B in msg and "--update-lock" in msg
    assert read_lock(lock) == {"net_a.tar.gz": A}  # unchanged


def test_update_replaces(lock):
    check_or_record(lock, "net_a.tar.gz", A)
    check_or_record(lock, "net_b.tar.gz", C)
    assert check_or_record(lock, "net_a.tar.gz", B, update=True) == "updated"
    assert read_lock(lock) == {"net_a.tar.gz": B, "net_b.tar.gz": C}


def test_formatting_is_sorted_and_deterministic(lock, tmp_path):
    for name, sha in [("z.tar.gz", A), ("a.tar.gz", B), ("m.tar.gz", C)]:
        check_or_record(lock, name, sha)
    text = open(lock, "rb").read().decode()
    assert text == HEADER + f"a.tar.gz {B}\nm.tar.gz {C}\nz.tar.gz {A}\n"
    assert text == format_lock(read_lock(lock))
    assert b"\r" not in open(lock, "rb").read()
    assert [n for n in os.listdir(os.path.dirname(lock))] == ["checksums.lock"]  # no temp left


def test_hand_edited_file_is_read(lock):
    os.makedirs(os.path.dirname(lock))
    with open(lock, "w") as f:
        f.write(f"\n# my note\n  x.tar.gz   {A}  \n")
    assert check_or_record(lock, "x.tar.gz", A) == "matched"


def test_malformed_line_names_file_and_line(lock):
    os.makedirs(os.path.dirname(lock))
    with open(lock, "w") as f:
        f.write(f"x.tar.gz {A}\nbroken line here\n")
    with pytest.raises(LockFileError, match=r"checksums.lock:2: expected 'filename sha256'"):
        check_or_record(lock, "y.tar.gz", B)


@pytest.mark.parametrize("name,sha", [("has space.tar.gz", A), ("x.tar.gz", "abc"), ("", A)])
def test_bad_arguments(lock, name, sha):
    with pytest.raises(ValueError):
        check_or_record(lock, name, sha)


def test_path_objects_accepted(tmp_path):
    assert check_or_record(tmp_path / "checksums.lock", "x.tar.gz", A) == "recorded"


# -- two processes at once ----------------------------------------------

def _record_many(lock, tag, n, barrier):
    barrier.wait()
    for i in range(n):
        check_or_record(lock, f"{tag}_{i:03d}.tar.gz", f"{i:064x}")


def test_two_processes_recording_different_files_lose_nothing(lock):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    n = 60
    procs = [ctx.Process(target=_record_many, args=(lock, tag, n, barrier)) for tag in "pq"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    pins = read_lock(lock)
    assert len(pins) == 2 * n
    assert pins["p_059.tar.gz"] == pins["q_059.tar.gz"] == f"{59:064x}"
    assert open(lock).read() == format_lock(pins)


def _record_one(lock, sha, barrier, out):
    barrier.wait()
    try:
        out.put(check_or_record(lock, "same.tar.gz", sha))
    except ChecksumError:
        out.put("refused")


@pytest.mark.parametrize("shas,outcomes", [
    ((A, A), ["matched", "recorded"]),     # same file: one records, one matches
    ((A, B), ["recorded", "refused"]),     # different files: first wins, second refused
])
def test_two_processes_recording_the_same_file(lock, shas, outcomes):
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_record_one, args=(lock, sha, barrier, out)) for sha in shas]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted([out.get(timeout=5), out.get(timeout=5)]) == outcomes
    assert read_lock(lock)["same.tar.gz"] in shas
