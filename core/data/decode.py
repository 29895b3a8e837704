"""Safe image decoding to uint8 numpy arrays.

Every image that enters Inspector goes through `load_image`, so the rest of the code sees only two
shapes: (H, W) grayscale or (H, W, 3) RGB, uint8. Conversions:

- EXIF orientation is applied, so the array looks the way a photo viewer shows the file.
- 16-bit and 32-bit grayscale (modes I;16*, I, F) are stretched from their actual min..max to
  0..255: industrial cameras often use 10 or 12 of the 16 bits, and clipping or a fixed >>8 would
  give black images.
- Alpha is composited on white (LA -> L, RGBA/PA -> RGB): transparent areas are background.
- Palette images become RGB, or L when every colour in use is gray; CMYK/YCbCr/LAB/HSV become RGB.

Only raster formats a camera or dataset would use are opened (no EPS/PDF, which Pillow hands to
external programs). Images larger than `max_pixels` are refused before their pixels are decoded.
Files are read through `core.data.file_checks.read_regular_file`: never a FIFO or a device.

Pillow reports some problems as warnings (DecompressionBombWarning, "Corrupt EXIF data", ...),
which would otherwise be printed on stderr with no file name. This module makes warnings issued
by Pillow into exceptions, process-wide (a filter installed on import), so each becomes the
reason in an ImageDecodeError instead. A broken EXIF block still only costs the orientation.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError
# Register the plugins we accept now rather than lazily inside scan worker threads.
from PIL import BmpImagePlugin, JpegImagePlugin, PngImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401

from core.data.file_checks import FileReadError, read_regular_file
from core.errors import ImageDecodeError

warnings.filterwarnings("error", module=r"PIL(\.|$)")
# Pillow's own words for a JPEG it decodes correctly anyway: not worth refusing the image for.
warnings.filterwarnings("ignore", message="Image appears to be a malformed MPO file", module=r"PIL(\.|$)")

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
    "ImageProbe",
    "decode_bytes",
    "is_image_name",
    "load_image",
    "probe_image",
]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})

# Pillow format names we agree to parse, whatever the file is called.
_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")  # MPO files open through JPEG

# 50 MP: above any area-scan camera we expect, below Pillow's own warning threshold (~89 MP), so a
# big image gets our clean error instead of a DecompressionBombWarning first.
DEFAULT_MAX_PIXELS = 50_000_000


def is_image_name(name: str | os.PathLike) -> bool:
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def load_image(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode `path` to uint8 (H, W) or (H, W, 3). Raises ImageDecodeError saying why it cannot."""
    return decode_bytes(_read(path), name=str(path), max_pixels=max_pixels)


@dataclass(frozen=True, slots=True)
class ImageProbe:
    """What a scan needs to know about one file. `error` is None when the image decodes."""

    content_hash: str | None  # sha256 hex of the file bytes; None only if the file cannot be read
    size_bytes: int | None
    width: int | None
    height: int | None
    channels: int | None  # 1 or 3, after the conversions above
    error: str | None
    gone: bool = False  # the file disappeared before it could be read


def probe_image(path: str | os.PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> ImageProbe:
    """Hash and fully decode one file; never raises for a bad image, `error` says what is wrong.

    A full decode, not just the header, because a truncated file has an intact header and only
    fails when its pixels are read. The bytes are read once and both hashed and decoded.
    """
    try:
        data = _read(path)
    except FileReadError as e:
        return ImageProbe(None, None, None, None, None, _reason(e, path), gone=e.gone)
    digest = hashlib.sha256(data).hexdigest()
    try:
        arr = decode_bytes(data, name=str(path), max_pixels=max_pixels)
    except ImageDecodeError as e:
        return ImageProbe(digest, len(data), None, None, None, _reason(e, path))
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    return ImageProbe(digest, len(data), arr.shape[1], arr.shape[0], channels, None)


def decode_bytes(data: bytes, *, name: str = "<bytes>", max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode an encoded image held in memory; see the module docstring for the conversions."""
    if not data:
        raise ImageDecodeError(f"{name}: empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data), formats=_FORMATS)
    except UnidentifiedImageError:
        raise ImageDecodeError(
            f"{name}: not a recognised image (expected PNG, JPEG, BMP, TIFF or WebP)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageDecodeError(f"{name}: {_bomb(e, max_pixels)}") from None
    except Exception as e:  # a damaged header can make any plugin raise anything (warnings included)
        raise ImageDecodeError(f"{name}: truncated or corrupt image header ({_short(e)})") from None
    with img:
        width, height = img.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageDecodeError(
                f"{name}: refused, {width}x{height} = {width * height} pixels exceeds the limit of "
                f"{max_pixels} (possible decompression bomb)")
        try:
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageDecodeError(f"{name}: {_bomb(e, max_pixels)}") from None
        except Exception as e:
            raise ImageDecodeError(f"{name}: truncated or corrupt image data ({_short(e)})") from None
        img = _upright(img)
        try:
            return _to_array(img)
        except ImageDecodeError:
            raise
        except Exception as e:
            raise ImageDecodeError(f"{name}: cannot convert mode {img.mode} ({_short(e)})") from None


def _read(path: str | os.PathLike) -> bytes:
    return read_regular_file(path)


def _bomb(e: Exception, max_pixels: int | None) -> str:
    """Pillow's decompression-bomb refusal in our words (its message: 'Image size (N pixels) exceeds limit of M ...').
    Pillow checks at open, before our own limit can: say ours when there is one, it is the lower."""
    m = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(e))
    if m is None:
        return f"refused, too many pixels ({_short(e)})"
    limit = min(max_pixels, int(m[2])) if max_pixels is not None else int(m[2])
    return f"refused, too many pixels: {m[1]} exceeds the limit of {limit} (possible decompression bomb)"


def _upright(img: Image.Image) -> Image.Image:
    try:
        if img.getexif().get(ExifTags.Base.Orientation, 1) == 1:
            return img  # exif_transpose would copy the whole image for nothing
        return ImageOps.exif_transpose(img) or img
    except Exception:
        # A broken EXIF block should not cost the user the image; show it as stored.
        return img


def _to_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("L", "RGB"):
        return np.asarray(img, dtype=np.uint8).copy()
    if mode == "1":
        return np.asarray(img.convert("L"), dtype=np.uint8).copy()
    if mode.startswith("I") or mode == "F":
        return _stretch(np.asarray(img))
    if mode == "P":
        return _from_palette(img)
    if mode in ("LA", "La"):
        return _on_white(np.asarray(img.convert("LA"), dtype=np.uint8))
    if mode in ("RGBA", "RGBa", "PA"):
        return _on_white(np.asarray(img.convert("RGBA"), dtype=np.uint8))
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()  # CMYK, YCbCr, LAB, HSV, RGBX


def _stretch(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    if a.ndim == 3:  # multi-channel I;16 variants do not exist in Pillow, but be safe
        a = a[..., 0]
    finite = np.isfinite(a)
    if not finite.all():
        a = np.where(finite, a, 0.0)
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        # Flat image: keep its level on the 16-bit scale rather than inventing contrast.
        return np.full(a.shape, int(np.clip(lo / 257.0, 0, 255)), dtype=np.uint8)
    return np.rint((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _from_palette(img: Image.Image) -> np.ndarray:
    if "transparency" in img.info:
        return _on_white(np.asarray(img.convert("RGBA"), dtype=np.uint8))
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return rgb[..., 0].copy()
    return rgb.copy()


def _on_white(a: np.ndarray) -> np.ndarray:
    """Composite straight (non-premultiplied) alpha, last channel, onto white; drop the alpha."""
    alpha = a[..., -1:].astype(np.float32) / 255.0
    colour = a[..., :-1].astype(np.float32)
    out = colour * alpha + 255.0 * (1.0 - alpha)
    out = np.rint(out).astype(np.uint8)
    return out[..., 0] if out.shape[-1] == 1 else out


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


def _reason(e: ImageDecodeError, path: str | os.PathLike) -> str:
    """The message without the leading path: a scan stores it next to the path already."""
    text = str(e)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text
