"""Generated hostile inputs: a dataset tree holding every case at once, and small files for the rest.

Everything is made from scratch with real files (FIFOs, sockets, symlinks, hard links, names that
are not UTF-8), so a test sees what a user's disk would give it. `make_hostile_tree` returns the
root and what each case should look like to the user.
"""
from __future__ import annotations

import io
import os
import socket
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

LONG_NAME = "l" * 251 + ".png"  # 255 bytes, the most a Linux file name may have


def png_bytes(seed: int, size: int = 16) -> bytes:
    a = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _gray_png(width: int, height: int, idat: bytes) -> bytes:
    """An 8-bit grayscale PNG around `idat` (zlib-compressed rows, each a filter byte then the pixels)."""
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b""))


def numbered_png(n: int) -> bytes:
    """A 4x4 grayscale PNG whose pixels spell `n` (0 <= n < 2**32): a different image for every n,
    encoded by hand in a few microseconds (Pillow took 20 times longer: most of making 50,000 files)."""
    pixels = n.to_bytes(4, "big") * 4
    return _gray_png(4, 4, zlib.compress(b"".join(b"\x00" + pixels[r * 4:r * 4 + 4] for r in range(4))))


def bomb_png(width: int, height: int) -> bytes:
    """A grayscale PNG of width x height zero pixels: a few hundred KB on disk, `width*height` bytes decoded."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    return _gray_png(width, height, b"".join(comp.compress(row) for _ in range(height)) + comp.flush())


@dataclass
class HostileTree:
    root: Path
    outside: Path  # a folder next to the root, reachable only through symlinks
    imported: dict[str, str] = field(default_factory=dict)  # rel_path -> label, readable images
    unreadable: dict[str, str] = field(default_factory=dict)  # shown rel_path -> exact reason
    skipped: dict[str, str] = field(default_factory=dict)  # shown rel_path -> exact reason
    sockets: list[socket.socket] = field(default_factory=list)

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def make_hostile_tree(base: Path) -> HostileTree:
    root, outside = base / "dataset", base / "outside"
    for d in (root / "good", root / "bad", root / "links", outside / "folder"):
        d.mkdir(parents=True, exist_ok=True)
    t = HostileTree(root, outside)
    never = "skipped, never opened"

    def image(rel: str, seed: int, label: str) -> Path:
        p = root / rel
        p.write_bytes(png_bytes(seed))
        t.imported[rel] = label
        return p

    ok = image("good/ok.png", 1, "good")
    image("good/second.png", 2, "good")
    image("good/" + LONG_NAME, 3, "good")
    image("good/line\nbreak.png", 4, "good")  # a newline in a name is legal; the project keeps it
    os.link(ok, root / "good" / "hard_link.png")  # a second name for the same file: a duplicate
    t.imported["good/hard_link.png"] = "good"
    os.symlink("../good/second.png", root / "links" / "inside.png")  # a link inside the root: imported
    t.imported["links/inside.png"] = "links"

    big = png_bytes(5, size=128)
    (root / "bad" / "truncated.png").write_bytes(big[: len(big) // 2])
    t.unreadable["bad/truncated.png"] = "truncated or corrupt image data (image file is truncated)"
    (root / "bad" / "empty.png").write_bytes(b"")
    t.unreadable["bad/empty.png"] = "empty file (0 bytes)"
    (root / "bad" / "new\nline.png").write_bytes(b"")
    t.unreadable["bad/new\\nline.png"] = "empty file (0 bytes)"
    (root / "bad" / "\x1b[2Jclear.png").write_bytes(b"")  # a terminal escape in a name: shown, not obeyed
    t.unreadable["bad/\\x1b[2Jclear.png"] = "empty file (0 bytes)"
    (root / "bad" / "text.jpg").write_text("this is not a JPEG\n")
    t.unreadable["bad/text.jpg"] = "not a recognised image (expected PNG, JPEG, BMP, TIFF or WebP)"
    (root / "bad" / "bomb.png").write_bytes(bomb_png(10_000, 10_000))  # past Pillow's own warning
    t.unreadable["bad/bomb.png"] = "refused, too many pixels: 100000000 exceeds the limit of 50000000 (possible decompression bomb)"
    (root / "bad" / "big.png").write_bytes(bomb_png(8_000, 8_000))  # past ours only
    t.unreadable["bad/big.png"] = ("refused, 8000x8000 = 64000000 pixels exceeds the limit of 50000000 "
                                   "(possible decompression bomb)")
    (root / "bad" / "exif.tif").write_bytes(b"II*\x00" + b"\x07" * 100)  # Pillow warns "Corrupt EXIF data"
    t.unreadable["bad/exif.tif"] = ("truncated or corrupt image header (Corrupt EXIF data.  Expecting to read "
                                    "2 bytes but only got 0.)")

    os.mkfifo(root / "bad" / "fifo.png")
    t.skipped["bad/fifo.png"] = f"a named pipe (FIFO), not a regular file: {never}"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "bad" / "socket.png"))
    t.sockets.append(sock)
    t.skipped["bad/socket.png"] = f"a socket, not a regular file: {never}"
    os.symlink("/dev/zero", root / "bad" / "zero.png")
    t.skipped["bad/zero.png"] = f"symbolic link to /dev/zero, outside the dataset root: {never}"
    (outside / "secret.png").write_bytes(png_bytes(6))
    os.symlink(outside / "secret.png", root / "links" / "out.png")
    t.skipped["links/out.png"] = f"symbolic link to {outside / 'secret.png'}, outside the dataset root: {never}"
    os.symlink("../good/ok.png/../../../outside/secret.png", root / "links" / "tricky.png")  # ".." past a file
    t.skipped["links/tricky.png"] = f"symbolic link to {outside / 'secret.png'}, outside the dataset root: {never}"
    os.symlink("missing.png", root / "links" / "dangling.png")
    t.skipped["links/dangling.png"] = f"symbolic link to missing.png, which does not exist: {never}"
    os.symlink("loop_b.png", root / "links" / "loop_a.png")
    os.symlink("loop_a.png", root / "links" / "loop_b.png")
    t.skipped["links/loop_a.png"] = f"symbolic link loop: {never}"
    t.skipped["links/loop_b.png"] = f"symbolic link loop: {never}"
    (outside / "folder" / "x.png").write_bytes(png_bytes(7))
    os.symlink(outside / "folder", root / "links" / "out_folder")
    t.skipped["links/out_folder/"] = f"symbolic link to {outside / 'folder'}, outside the dataset root: {never}"
    os.symlink("../good", root / "links" / "in_folder")
    t.skipped["links/in_folder/"] = "symbolic link to a folder: not followed"
    (root / os.fsdecode(b"good/caf\xe9.png")).write_bytes(png_bytes(8))  # Latin-1, not UTF-8
    t.skipped["good/caf\\xe9.png"] = "the name is not valid UTF-8 (rename the file)"
    bad_dir = root / os.fsdecode(b"r\xe9sum\xe9")
    bad_dir.mkdir()
    (bad_dir / "a.png").write_bytes(png_bytes(9))
    t.skipped["r\\xe9sum\\xe9/"] = "folder skipped: the name is not valid UTF-8 (rename the file)"
    (root / "good" / ".hidden.png").write_bytes(b"")  # hidden: silently not data
    (root / "good" / "notes.txt").write_text("not an image: silently ignored\n")
    return t
