"""What a scan may open: regular files inside the dataset root, and nothing else.

A dataset folder is input from outside, and a hostile (or merely odd) one holds things that must
never be opened as images: a named pipe blocks `open()` forever, `/dev/zero` behind a symlink
reads until memory runs out, a symlink can point at any file on the machine. The rules:

- Regular files are read; symlinks only when they lead to a regular file inside the dataset root.
- FIFOs, sockets, devices, symlinks out of the root, dangling or looping symlinks and symlinked
  folders are skipped with a reason, never opened.
- Names that are not valid UTF-8 are skipped: the project stores text, and such a name cannot be
  stored or shown faithfully (rename the file).
- Reading re-checks with fstat what was opened (non-blocking, so even a FIFO swapped in after the
  listing cannot hang the scan), refuses files above a size cap, and notices a file that changes
  while it is being read.

Reasons are one line each, without the path; `printable()` makes any name safe for one line.
"""
from __future__ import annotations

import errno
import os
import stat

from core.errors import ImageDecodeError

# Far above any camera image (a 50 MP 16-bit RGB TIFF is 300 MB), far below what would exhaust memory.
MAX_FILE_BYTES = 1 << 30

NEVER_OPENED = "skipped, never opened"

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
_CONTROL = {c: f"\\x{c:02x}" for c in range(0x20)} | {0x7F: "\\x7f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


class FileReadError(ImageDecodeError):
    """A file could not be read as a whole. `gone` marks a file that disappeared after it was listed."""

    def __init__(self, message: str, *, gone: bool = False):
        super().__init__(message)
        self.gone = gone


def printable(name: str) -> str:
    """`name` on one line: control characters as \\n, \\t, \\xNN; undecodable bytes as \\xNN."""
    if name.isprintable():
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if code in _CONTROL:
            out.append(_CONTROL[code])
        elif 0xDC80 <= code <= 0xDCFF:  # surrogateescape: a byte that is not valid UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif not ch.isprintable():  # other controls, line and paragraph separators
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def name_problem(name: str) -> str | None:
    """Why a file or folder name cannot be imported, or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the name is not valid UTF-8 (rename the file)"
    return None


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symbolic link"),
          (stat.S_ISREG, "a regular file"))


def kind_of(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def entry_problem(entry: os.DirEntry, real_root: str) -> str | None:
    """None when a listed entry may be read as an image file; otherwise why it is skipped.

    A regular file costs no system call here (the listing's d_type says so); only other kinds are
    looked at more closely."""
    try:
        if entry.is_file(follow_symlinks=False):
            return None
        if entry.is_symlink():
            return link_problem(entry.path, real_root)
        return f"{kind_of(entry.stat(follow_symlinks=False).st_mode)}, not a regular file: {NEVER_OPENED}"
    except FileNotFoundError:
        return "disappeared during the scan"
    except OSError as e:
        return f"cannot be examined ({e.strerror or e})"


def link_problem(path: str, real_root: str) -> str | None:
    """None for a symlink to a regular file inside `real_root` (a resolved path); else the reason."""
    try:
        target = os.readlink(path)
    except OSError as e:
        return f"unreadable symbolic link ({e.strerror or e}): {NEVER_OPENED}"
    try:
        real = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        return f"symbolic link to {printable(target)}, which does not exist: {NEVER_OPENED}"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return f"symbolic link loop: {NEVER_OPENED}"
        return f"symbolic link to {printable(target)} that cannot be followed ({e.strerror or e}): {NEVER_OPENED}"
    if not is_inside(real, real_root):
        return f"symbolic link to {printable(real)}, outside the dataset root: {NEVER_OPENED}"
    try:
        mode = os.stat(real).st_mode
    except OSError as e:
        return f"symbolic link to {printable(target)} that cannot be examined ({e.strerror or e}): {NEVER_OPENED}"
    if stat.S_ISDIR(mode):
        return "symbolic link to a folder: not followed"
    if not stat.S_ISREG(mode):
        return f"symbolic link to {kind_of(mode)}, not a regular file: {NEVER_OPENED}"
    return None


def path_problem(path: str, real_root: str) -> str | None:
    """`entry_problem` for a path named by a manifest rather than found in a listing."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "file not found"
    except OSError as e:
        return f"cannot be examined ({e.strerror or e})"
    if stat.S_ISLNK(mode):
        return link_problem(path, real_root)
    if not stat.S_ISREG(mode):
        return f"{kind_of(mode)}, not a regular file: {NEVER_OPENED}"
    return None


def is_inside(real_path: str, real_root: str) -> bool:
    return real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep)


def _read_upto(fd: int, n: int) -> bytes:
    """Up to n bytes, fewer only at the end of the file (plain os.read: no file object per image)."""
    data = os.read(fd, n)
    if len(data) < n:  # a short read is almost always the end; make sure
        chunks = [data]
        while (got := sum(map(len, chunks))) < n and (more := os.read(fd, n - got)):
            chunks.append(more)
        data = b"".join(chunks) if len(chunks) > 1 else data
    return data


def read_regular_file(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """All bytes of a regular file, or FileReadError saying why not (message starts with the path)."""
    name = os.fspath(path)
    try:
        fd = os.open(name, _OPEN_FLAGS)
    except FileNotFoundError:
        raise FileReadError(f"{name}: file not found", gone=True) from None
    except IsADirectoryError:
        raise FileReadError(f"{name}: is a folder, not an image") from None
    except OSError as e:
        if e.errno == errno.ENXIO:  # opening a socket file
            raise FileReadError(f"{name}: a socket, not a regular file: {NEVER_OPENED}") from None
        raise FileReadError(f"{name}: cannot read ({e.strerror or e})") from None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise FileReadError(f"{name}: {kind_of(before.st_mode)}, not a regular file: not read")
        if before.st_size > max_bytes:
            raise FileReadError(f"{name}: {before.st_size} bytes, more than the {max_bytes} bytes an image may have")
        data = _read_upto(fd, before.st_size + 1)  # one byte more than expected: a growing file shows itself
        after = os.fstat(fd)
    except FileReadError:
        raise
    except OSError as e:
        raise FileReadError(f"{name}: cannot read ({e.strerror or e})") from None
    finally:
        os.close(fd)
    if len(data) != before.st_size or after.st_size != before.st_size or after.st_mtime_ns != before.st_mtime_ns:
        raise FileReadError(f"{name}: changed while it was being read ({before.st_size} bytes when opened, "
                            f"{after.st_size} when done); import again once it is complete")
    return data
