"""safe_extract refuses unsafe or damaged archives; make_tarball is reproducible."""

import gzip
import hashlib
import io
import os
import stat
import tarfile

import pytest

from steps import extract as ex
from steps.extract import ExtractError, make_tarball, safe_extract


def build(path, entries, mode="w:gz"):
    """entries: (name, kind, payload) with kind file|dir|sym|lnk|fifo|chr."""
    with tarfile.open(path, mode) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = payload.encode() if isinstance(payload, str) else payload
                info.size = len(data)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "lnk":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(path)


GOOD = [
    ("./net", "dir", None),
    ("./net/model.ckpt.index", "file", "index"),
    ("./net/model.ckpt.data-00000-of-00001", "file", os.urandom(5000)),
    ("./net/latest", "sym", "model.ckpt.index"),
    ("./net/same", "lnk", "./net/model.ckpt.index"),
]


def listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, dirs, files in os.walk(root) for f in dirs + files)


def test_good_archive_extracts(tmp_path):
    tgz = build(tmp_path / "ok.tar.gz", GOOD)
    out = tmp_path / "out"
    names = safe_extract(tgz, str(out))
    assert names == [n for n, _, _ in GOOD]
    assert (out / "net" / "model.ckpt.index").read_text() == "index"
    assert os.readlink(out / "net" / "latest") == "model.ckpt.index"
    assert (out / "net" / "same").read_text() == "index"
    assert listing(tmp_path) == sorted(["ok.tar.gz", "out", "out/net"] + [
        "out/net/" + n for n in ("model.ckpt.index", "model.ckpt.data-00000-of-00001", "latest", "same")])
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o755


def test_plain_uncompressed_tar_also_works(tmp_path):
    tar = build(tmp_path / "ok.tar", GOOD, mode="w")
    assert len(safe_extract(tar, str(tmp_path / "out"))) == len(GOOD)


@pytest.mark.parametrize("entry,why", [
    (("../x", "file", "pwn"), "contains '..'"),
    (("net/../../x", "file", "pwn"), "contains '..'"),
    (("/etc/x", "file", "pwn"), "is an absolute path"),
    (("net/escape", "sym", "../../outside"), "outside the directory"),
    (("net/abs", "sym", "/etc/passwd"), "symlink to the absolute path"),
    (("net/hard", "lnk", "../outside"), "hardlink target of 'net/hard'"),
    (("net/hard", "lnk", "/etc/passwd"), "is an absolute path"),
    (("net/fifo", "fifo", None), "device file or FIFO"),
    (("net/null", "chr", None), "device file or FIFO"),
])
def test_unsafe_member_refused(tmp_path, entry, why):
    tgz = build(tmp_path / "bad.tar.gz", GOOD + [entry])
    out = tmp_path / "out"
    with pytest.raises(ExtractError) as e:
        safe_extract(tgz, str(out))
    msg = str(e.value)
    assert tgz in msg and repr(entry[0]) in msg and why in msg
    assert listing(tmp_path) == ["bad.tar.gz"]  # nothing written, temp dir gone


def test_write_through_inner_symlink_refused(tmp_path):
    # 'net/d' -> '.' is harmless on its own; 'net/d/e' -> '..' would then
    # land at net/e and point at the parent of out: a lexical check of
    # 'net/d/e' alone would miss it.
    tgz = build(tmp_path / "bad.tar.gz", [
        ("net/d", "sym", "."), ("net/d/e", "sym", ".."), ("net/d/e/x", "file", "pwn")])
    with pytest.raises(ExtractError, match=r"'net/d/e' goes through the symlink 'net/d'"):
        safe_extract(tgz, str(tmp_path / "out"))


def test_file_replacing_earlier_symlink_refused(tmp_path):
    tgz = build(tmp_path / "bad.tar.gz", [("link", "sym", "inside"), ("link", "file", "x")])
    with pytest.raises(ExtractError, match="goes through the symlink 'link'"):
        safe_extract(tgz, str(tmp_path / "out"))


def test_corrupt_gzip(tmp_path):
    tgz = build(tmp_path / "ok.tar.gz", GOOD)
    data = bytearray(open(tgz, "rb").read())
    for i in range(20, len(data) - 20):
        data[i] ^= 0xA5
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ExtractError, match=r"cannot extract .*bad\.tar\.gz: corrupt or truncated"):
        safe_extract(str(bad), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_not_an_archive(tmp_path):
    bad = tmp_path / "page.tar.gz"
    bad.write_text("<html>mirror error page</html>")
    with pytest.raises(ExtractError, match="corrupt or truncated"):
        safe_extract(str(bad), str(tmp_path / "out"))


@pytest.mark.parametrize("suffix,mode", [("tar.gz", "w:gz"), ("tar", "w")])
def test_truncated_archive(tmp_path, suffix, mode):
    big = [("net/a", "file", os.urandom(100_000)), ("net/b", "file", os.urandom(100_000))]
    tgz = build(tmp_path / f"ok.{suffix}", big, mode=mode)
    data = open(tgz, "rb").read()
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ExtractError, match=f"cannot extract {cut}: corrupt or truncated"):
        safe_extract(str(cut), str(tmp_path / "out"))
    assert sorted(os.listdir(tmp_path)) == sorted([f"ok.{suffix}", f"cut.{suffix}"])


def test_missing_archive(tmp_path):
    with pytest.raises(ExtractError, match="no such file"):
        safe_extract(str(tmp_path / "none.tar.gz"), str(tmp_path / "out"))


def test_killed_extraction_leaves_no_finished_looking_dir(tmp_path, monkeypatch):
    tgz = build(tmp_path / "ok.tar.gz", GOOD)

    def die(*a, **k):
        raise KeyboardInterrupt  # stands in for a kill mid-extraction
    monkeypatch.setattr(tarfile.TarFile, "extractall", die)
    with pytest.raises(KeyboardInterrupt):
        safe_extract(tgz, str(tmp_path / "out"))
    assert os.listdir(tmp_path) == ["ok.tar.gz"]


def test_temp_dir_is_beside_and_hidden_until_rename(tmp_path, monkeypatch):
    tgz = build(tmp_path / "ok.tar.gz", GOOD)
    seen = {}
    real = ex._swap_into_place

    def spy(tmp, dest):
        seen["tmp"], seen["dest_existed"] = tmp, os.path.exists(dest)
        seen["complete"] = os.path.exists(os.path.join(tmp, "net", "same"))
        real(tmp, dest)
    monkeypatch.setattr(ex, "_swap_into_place", spy)
    safe_extract(tgz, str(tmp_path / "out"))
    assert os.path.dirname(seen["tmp"]) == str(tmp_path)
    assert os.path.basename(seen["tmp"]).startswith(".out.tmp-")
    assert seen == dict(seen, dest_existed=False, complete=True)


def test_reextract_replaces_old_tree(tmp_path):
    out = tmp_path / "out"
    safe_extract(build(tmp_path / "a.tar.gz", [("old.txt", "file", "old")]), str(out))
    safe_extract(build(tmp_path / "b.tar.gz", [("new.txt", "file", "new")]), str(out))
    assert os.listdir(out) == ["new.txt"]
    assert sorted(os.listdir(tmp_path)) == ["a.tar.gz", "b.tar.gz", "out"]


def test_failed_reextract_keeps_old_tree(tmp_path):
    out = tmp_path / "out"
    safe_extract(build(tmp_path / "a.tar.gz", [("old.txt", "file", "old")]), str(out))
    with pytest.raises(ExtractError):
        safe_extract(build(tmp_path / "b.tar.gz", [("../x", "file", "x")]), str(out))
    assert os.listdir(out) == ["old.txt"]


# -- make_tarball -------------------------------------------------------

def sources(tmp_path):
    d = tmp_path / "src"
    d.mkdir(exist_ok=True)
    files = {}
    for name, data in [("b.ckpt.index", b"idx"), ("a.ckpt.data-00000-of-00001", b"\x00" * 4096),
                       ("sub/graph.pb", b"pb")]:
        p = d / name.replace("/", "_")
        p.write_bytes(data)
        files[name] = str(p)
    return files


def test_make_tarball_is_deterministic(tmp_path):
    files = sources(tmp_path)
    one = make_tarball(str(tmp_path / "one.tar.gz"), files)
    for p in files.values():  # new mtimes and a different dict order
        os.utime(p, (1e9, 1e9))
    two = make_tarball(str(tmp_path / "two.tar.gz"), dict(reversed(list(files.items()))))
    assert one == two
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()
    assert one == hashlib.sha256((tmp_path / "one.tar.gz").read_bytes()).hexdigest()


def test_make_tarball_headers(tmp_path):
    files = sources(tmp_path)
    path = tmp_path / "t.tar.gz"
    make_tarball(str(path), files)
    raw = path.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08"
    assert raw[3] & 0x08 == 0  # FNAME flag off: no file name stored
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(files)
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) == (0, 0, 0, "", "", 0o644)
        assert m.isfile()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert gzip.decompress(raw)  # a whole, valid stream


def test_make_tarball_roundtrips_through_safe_extract(tmp_path):
    files = sources(tmp_path)
    path = str(tmp_path / "t.tar.gz")
    make_tarball(path, files)
    out = tmp_path / "out"
    assert safe_extract(path, str(out)) == sorted(files)
    assert (out / "sub" / "graph.pb").read_bytes() == b"pb"


def test_make_tarball_refuses_unsafe_names_and_is_atomic(tmp_path):
    files = sources(tmp_path)
    path = tmp_path / "t.tar.gz"
    with pytest.raises(ExtractError, match="contains '..'"):
        make_tarball(str(path), {"../evil": files["sub/graph.pb"]})
    with pytest.raises(FileNotFoundError):
        make_tarball(str(path), {"x": str(tmp_path / "missing")})
    assert not path.exists()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def _extract_n(tgz, out, n, barrier):
    barrier.wait()
    for _ in range(n):
        safe_extract(tgz, out)


def test_two_processes_extracting_into_the_same_dir(tmp_path):
    import multiprocessing
    tgz = build(tmp_path / "ok.tar.gz", GOOD)
    out = str(tmp_path / "out")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_extract_n, args=(tgz, out, 20, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert (tmp_path / "out" / "net" / "same").read_text() == "index"
    assert sorted(os.listdir(tmp_path)) == ["ok.tar.gz", "out"]  # no temp or old trees left


def test_path_objects_accepted(tmp_path):
    files = sources(tmp_path)
    path = tmp_path / "t.tar.gz"
    make_tarball(path, {k: __import__("pathlib").Path(v) for k, v in files.items()})
    assert safe_extract(path, tmp_path / "out") == sorted(files)
