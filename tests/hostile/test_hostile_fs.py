"""The file system moving under a scan: folders that vanish, files that change while read, files and
folders the user may not read, and a folder of 50,000 files."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from trees import numbered_png, png_bytes

from core.data.scan import GONE, scan_dataset
from core.data.walk import TreeWalk
from core.progress import Reporter

NOBODY = 65534


def _images(folder: Path, n: int, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"{i:03d}.png").write_bytes(png_bytes(seed * 1000 + i))


def test_a_folder_that_disappears_after_the_listing(tmp_path):
    root = tmp_path / "ds"
    _images(root / "a_stays", 3)
    _images(root / "z_goes", 4, seed=1)

    def progress(done: int, total: int, _message: str) -> None:
        if done == 0:  # listed, nothing read yet: another program removes a folder now
            shutil.rmtree(root / "z_goes")

    res = scan_dataset(root, workers=1, progress=Reporter(progress))
    assert [im.rel_path for im in res.images] == [f"a_stays/{i:03d}.png" for i in range(3)]
    assert all(im.error is None for im in res.images)
    assert [(s.rel_path, s.reason) for s in res.skipped] == [(f"z_goes/{i:03d}.png", GONE) for i in range(4)]
    assert GONE == "disappeared during the scan (deleted or moved while it was being imported)"


def test_a_folder_that_disappears_while_the_tree_is_listed(tmp_path):
    root = tmp_path / "ds"
    _images(root / "c" / "sub", 2)
    walk = TreeWalk(root)
    assert [d.name for d in walk.dirs(root)] == ["c"]  # the parent is listed ...
    shutil.rmtree(root / "c")  # ... and its folder goes before the walk reaches it
    assert walk.files(root / "c") == []
    assert [(s.rel_path, s.reason) for s in walk.skipped] == [("c/", "folder disappeared during the scan")]
    (root / "c").write_text("now a file")
    walk2 = TreeWalk(root)
    walk2._listings[root] = ([root / "c"], [])  # listed as a folder a moment ago
    assert walk2.files(root / "c") == []
    assert [(s.rel_path, s.reason) for s in walk2.skipped] == [("c/", "was a folder, replaced by a file during the scan")]


def test_a_file_that_changes_while_it_is_read(tmp_path, cli):
    root = tmp_path / "ds" / "c"
    _images(root, 2)
    growing = root / "growing.png"
    growing.write_bytes(b"\x89PNG" + os.urandom(48 << 20))  # 48 MB: reading it takes a while
    writer = subprocess.Popen([sys.executable, "-c",
                               "import sys, time\nf = open(sys.argv[1], 'ab', buffering=0)\n"
                               "while True:\n    f.write(b'x' * 4096)\n    time.sleep(0.001)\n", str(growing)])
    try:
        time.sleep(0.2)
        r = cli("import", tmp_path / "ds", "--db", "p.db", cwd=tmp_path)
    finally:
        writer.kill()
        writer.wait()
    assert r.rc == 0, r
    line = next(l for l in r.out.splitlines() if "c/growing.png" in l)
    assert re.fullmatch(r"  unreadable  c/growing\.png: changed while it was being read \((\d+) bytes when opened, "
                        r"(\d+) when done\); import again once it is complete", line), line
    assert "2 new" not in r.out and "3 new" in r.out  # the two stable images came in beside it


@pytest.fixture
def shared_tmp():
    """A folder another user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="inspector-hostile-"))
    folder.chmod(0o777)
    yield folder
    for p in folder.rglob("*"):
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(folder)


def test_files_and_folders_the_user_may_not_read(shared_tmp, cli):
    """Root reads everything regardless of permissions, so the import runs as `nobody` then."""
    root = shared_tmp / "ds"
    _images(root / "c", 2)
    _images(root / "locked", 2, seed=1)
    (root / "c" / "secret.png").write_bytes(png_bytes(50))
    (root / "c" / "secret.png").chmod(0o000)
    (root / "locked").chmod(0o000)
    uid = NOBODY if os.geteuid() == 0 else None
    if uid is not None and shutil.which("setpriv") is None:
        pytest.skip("root reads files whatever their permissions, and setpriv (util-linux) is not there to drop them")
    r = cli("import", root, "--db", shared_tmp / "p.db", cwd=shared_tmp, uid=uid)
    assert r.rc == 0 and r.messages == [], r
    assert r.out.splitlines()[-3:] == [
        "1 unreadable (imported, flagged unreadable), 1 skipped (not imported):",
        "  unreadable  c/secret.png: cannot read (Permission denied)",
        "  skipped     locked/: cannot open the folder (permission denied): nothing in it was imported",
    ]
    # A project the user may not write: one line, and nothing changed.
    (shared_tmp / "p.db").chmod(0o444)
    os.chmod(shared_tmp, 0o755)
    r = cli("label", "c/000.png", "c", "--db", shared_tmp / "p.db", cwd="/", uid=uid)
    assert r.rc == 2 and r.out == "", r
    assert r.err in (f"inspector: error: {shared_tmp / 'p.db'}: cannot write the project (the file or its folder "
                     "is read-only)\n",)


@pytest.fixture
def many_files_root(tmp_path):
    """Where a test puts tens of thousands of files: a folder in RAM (/dev/shm) when it has room,
    removed after the test in moments, else tmp_path. On a disk mounted with `discard` (as here),
    removing 50,000 files takes minutes (3 ms each: every freed block is discarded before unlink
    returns), paid by whichever later pytest run removes this run's folder: seen as a 300 s stall."""
    shm = Path("/dev/shm")
    try:
        roomy = shm.is_dir() and shutil.disk_usage(shm).free > 2**31
        root = Path(tempfile.mkdtemp(prefix="inspector-test-", dir=shm)) if roomy else None
    except OSError:
        root = None
    if root is None:
        yield tmp_path
        return
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_fifty_thousand_files_in_one_folder(many_files_root, tmp_path, cli):
    folder = many_files_root / "ds" / "part"
    folder.mkdir(parents=True)
    for i in range(50_000):
        (folder / f"{i:05d}.png").write_bytes(numbered_png(i))
    t0 = time.perf_counter()
    r = cli("import", many_files_root / "ds", "--db", "p.db", cwd=tmp_path, timeout=600)
    seconds = time.perf_counter() - t0
    assert r.rc == 0 and r.messages == [], r
    assert r.out.splitlines()[1] == (f"{many_files_root / 'ds'}: 50000 new, 0 changed, 0 unchanged, 0 missing, "
                                     "0 unreadable")
    assert "skipped" not in r.out
    r = cli("errors", "--db", "p.db", cwd=tmp_path)
    assert r.out == "no unreadable or skipped files\n"
    print(f"50,000 files imported in {seconds:.1f} s")


def test_a_folder_deeper_than_the_longest_path(tmp_path, cli):
    """Each name is legal, but the whole path is longer than the kernel takes (PATH_MAX, 4096 bytes)."""
    _images(tmp_path / "ds" / "c", 1)
    fd = os.open(tmp_path / "ds" / "c", os.O_RDONLY)
    name = "d" * 250
    for _ in range(17):
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(os.open("deep.png", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)
    r = cli("import", tmp_path / "ds", "--db", "p.db", cwd=tmp_path)
    assert r.rc == 0 and "1 new" in r.out, r
    base = str(tmp_path / "ds" / "c")
    depth = next(k for k in range(1, 18) if len(base) + 251 * k >= 4096)  # the first folder past PATH_MAX
    assert r.out.splitlines()[-2:] == [
        "0 unreadable (imported, flagged unreadable), 1 skipped (not imported):",
        "  skipped     c/" + "/".join([name] * depth) + "/: cannot list the folder (File name too long): "
        "nothing in it was imported",
    ]
