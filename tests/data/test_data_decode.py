from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from core.data.decode import ImageDecodeError, load_image, probe_image
from core.errors import InspectorError


def test_grayscale_and_rgb_round_trip_exactly(tmp_path, write_image):
    gray = write_image(tmp_path / "g.png", (10, 14))
    rgb = write_image(tmp_path / "c.png", (10, 14, 3), seed=1)
    g = load_image(gray)
    c = load_image(rgb)
    assert g.dtype == np.uint8 and g.shape == (10, 14)
    assert c.dtype == np.uint8 and c.shape == (10, 14, 3)
    assert np.array_equal(g, np.asarray(Image.open(gray)))
    assert np.array_equal(c, np.asarray(Image.open(rgb)))


def test_exif_orientation_is_applied(tmp_path):
    # 40 wide, 20 tall; left half red, right half blue. Orientation 6 = rotate 90 degrees clockwise
    # for display, so the displayed image is 20 wide, 40 tall, with red on top.
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = (255, 0, 0)
    a[:, 20:] = (0, 0, 255)
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=95)
    out = load_image(path)
    assert out.shape == (40, 20, 3)
    top, bottom = out[5, 10].astype(int), out[35, 10].astype(int)
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_16bit_png_is_stretched_by_its_range_not_clipped(tmp_path):
    # A 12-bit camera in a 16-bit container: values 1000..4000. Clipping or >>8 would give a dark image.
    a = np.linspace(1000, 4000, 64 * 64).reshape(64, 64).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)
    assert Image.open(path).mode.startswith("I")
    out = load_image(path)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    assert out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)  # order preserved


def test_flat_16bit_image_keeps_its_level(tmp_path):
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(path)
    out = load_image(path)
    assert out.shape == (8, 8) and np.all(out == 255)


def test_float_tiff_is_stretched(tmp_path):
    path = tmp_path / "f.tif"
    Image.fromarray(np.linspace(-1.0, 3.0, 100, dtype=np.float32).reshape(10, 10)).save(path)
    out = load_image(path)
    assert out.shape == (10, 10) and out.min() == 0 and out.max() == 255


def test_palette_colour_becomes_rgb(tmp_path):
    img = Image.new("P", (6, 4))
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * (254 * 3))
    img.putpixel((0, 0), 1)
    path = tmp_path / "pal.png"
    img.save(path)
    out = load_image(path)
    assert out.shape == (4, 6, 3)
    assert tuple(out[0, 0]) == (0, 255, 0) and tuple(out[1, 1]) == (255, 0, 0)


def test_grayscale_palette_becomes_single_channel(tmp_path):
    img = Image.new("P", (6, 4))
    img.putpalette([v for i in range(256) for v in (i, i, i)])
    img.putpixel((2, 1), 200)
    path = tmp_path / "graypal.png"
    img.save(path)
    out = load_image(path)
    assert out.shape == (4, 6) and out[1, 2] == 200


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (255, 0, 0, 0)).save(path, quality=95)  # pure cyan
    out = load_image(path)
    assert out.shape == (16, 16, 3)
    r, g, b = out[8, 8].astype(int)
    assert r < 40 and g > 215 and b > 215


def test_alpha_is_composited_on_white(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 200  # red-ish colour everywhere
    a[0, 0, 3] = 255  # opaque
    a[1, 1, 3] = 0  # fully transparent -> white
    a[2, 2, 3] = 128  # half -> halfway to white
    path = tmp_path / "rgba.png"
    Image.fromarray(a, "RGBA").save(path)
    out = load_image(path)
    assert out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == (200, 0, 0)
    assert tuple(out[1, 1]) == (255, 255, 255)
    assert abs(int(out[2, 2, 1]) - 127) <= 1


def test_gray_with_alpha_stays_single_channel(tmp_path):
    a = np.zeros((3, 3, 2), np.uint8)
    a[..., 0] = 10
    a[..., 1] = 255
    a[0, 0, 1] = 0
    path = tmp_path / "la.png"
    Image.fromarray(a, "LA").save(path)
    out = load_image(path)
    assert out.shape == (3, 3) and out[0, 0] == 255 and out[1, 1] == 10


def test_bilevel_tiff(tmp_path):
    path = tmp_path / "bw.tif"
    Image.new("1", (5, 3), 1).save(path)
    out = load_image(path)
    assert out.shape == (3, 5) and np.all(out == 255)


@pytest.mark.parametrize("kind", ["zero", "text", "random", "truncated_png", "truncated_jpeg", "missing", "folder"])
def test_bad_files_raise_a_clear_error(tmp_path, write_image, kind):
    path = tmp_path / ("x.jpg" if kind == "truncated_jpeg" else "x.png")
    if kind == "zero":
        path.write_bytes(b"")
        reason = "empty file"
    elif kind == "text":
        path.write_text("this is not an image\n")
        reason = "not a recognised image"
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
        reason = "not a recognised image"
    elif kind == "missing":
        reason = "not found"
    elif kind == "folder":
        path.mkdir()
        reason = "folder"
    else:
        full = write_image(tmp_path / ("full" + path.suffix), (64, 64, 3))
        data = full.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        reason = "truncated"
    with pytest.raises(ImageDecodeError, match=reason) as info:
        load_image(path)
    assert isinstance(info.value, InspectorError)
    assert "\n" not in str(info.value)


def test_corrupt_pixel_data_after_a_valid_header(tmp_path, write_image):
    full = write_image(tmp_path / "full.png", (32, 32))
    data = bytearray(full.read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 8: idat + 40] = b"\xff" * 32  # scramble the compressed stream, keep the length
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageDecodeError):
        load_image(bad)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("L", (2000, 2000)).save(path)  # a few KB on disk, 4 MP in memory
    assert path.stat().st_size < 50_000
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        load_image(path, max_pixels=1_000_000)
    assert load_image(path, max_pixels=None).shape == (2000, 2000)


def test_pillows_own_bomb_error_becomes_a_clean_error(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("L", (300, 300)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # Pillow raises above twice this
    with pytest.raises(ImageDecodeError, match="too many pixels"):
        load_image(path, max_pixels=None)


def test_probe_hashes_bytes_and_reports_shape(tmp_path, write_image):
    path = write_image(tmp_path / "a.png", (7, 9, 3))
    p = probe_image(path)
    assert p.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (p.width, p.height, p.channels, p.size_bytes, p.error) == (9, 7, 3, path.stat().st_size, None)


def test_probe_of_a_bad_file_keeps_the_hash_and_says_why(tmp_path, write_image):
    full = write_image(tmp_path / "full.jpg", (64, 64, 3))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(full.read_bytes()[:300])
    p = probe_image(bad)
    assert p.error and "truncated" in p.error and str(bad) not in p.error
    assert p.content_hash == hashlib.sha256(bad.read_bytes()).hexdigest()
    assert p.width is None
    missing = probe_image(tmp_path / "nope.png")
    assert missing.content_hash is None and "not found" in missing.error
