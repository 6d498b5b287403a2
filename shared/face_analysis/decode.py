"""Image bytes → RGB pixels, upright, at the resolution each step needs.

Phones upload JPEG and HEIC with an EXIF orientation, PNGs may carry alpha or 16-bit samples,
GIF/WebP may be animated. Everything becomes 8-bit RGB, turned upright, first frame only.

Event photos are large (12+ Mpx) but the detector sees about 640 px, so a JPEG is decoded
at reduced size with libjpeg's DCT scaling ("draft" mode: 1/2, 1/4 or 1/8), several times
faster than a full decode followed by a resize. Face chips need more pixels than the detector,
so :meth:`DecodedImage.pixels` is asked again with the scale the recogniser needs and decodes
once more only when that scale is larger. Formats without DCT scaling are decoded once, fully.

A colour JPEG that ends with its end-of-image marker is decoded by OpenCV's libjpeg-turbo
straight into a NumPy array: Pillow stores RGB as 4 bytes a pixel, and repacking a 12 Mpx
image into an array cost more CPU than decoding it (60 ms of ~110 ms, measured). Anything
else, including every truncated JPEG, goes through Pillow, whose errors say what is wrong.

Every failure becomes an :class:`~shared.face_analysis.errors.ImageError` whose class says
what is wrong; no Pillow exception escapes, so one bad upload cannot crash a worker.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from shared.face_analysis.errors import (
    ImageTooLargeError,
    NotAnImageError,
    TruncatedImageError,
    UnsupportedFormatError,
)

try:  # HEIC/HEIF (iPhone default) and AVIF; optional so a slim install still decodes JPEG.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is in the ml extra
    pass

# Image formats Pillow cannot decode here, recognised by their first bytes so the error says
# "unsupported format" (a real photo we cannot read) rather than "not an image".
_FOREIGN_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", 0, "JPEG XL"),
    (b"FUJIFILMCCD-RAW", 0, "Fujifilm RAF"),
    (b"II*\x00\x10\x00\x00\x00CR", 0, "Canon CR2"),
    (b"ftypcrx ", 4, "Canon CR3"),
    (b"IIRO", 0, "Olympus ORF"),
)
_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}  # orientations that rotate by 90° or 270°


# The same turns for OpenCV arrays, applied in this order: (transpose?, flip code, rotate code).
_UPRIGHT_CV: dict[int, tuple[bool, int | None, int | None]] = {
    2: (False, 1, None),
    3: (False, None, cv2.ROTATE_180),
    4: (False, 0, None),
    5: (True, None, None),
    6: (False, None, cv2.ROTATE_90_CLOCKWISE),
    7: (True, None, cv2.ROTATE_180),
    8: (False, None, cv2.ROTATE_90_COUNTERCLOCKWISE),
}
# imdecode flags per DCT reduction: the reduction bits of the REDUCED_GRAYSCALE_* flags, with
# IMREAD_COLOR_RGB for libjpeg's own RGB output (no BGR->RGB pass over 12 Mpx, ~12 ms).
_CV_REDUCED = {reduction: bits | cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION for reduction, bits in (
    (1, 0), (2, cv2.IMREAD_REDUCED_GRAYSCALE_2), (4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    (8, cv2.IMREAD_REDUCED_GRAYSCALE_8))}
_JPEG_END = b"\xff\xd9"

_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _foreign_format(data: bytes) -> str | None:
    head = data[:1024]
    text = head.lstrip()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    for signature, offset, name in _FOREIGN_SIGNATURES:
        if head[offset:offset + len(signature)] == signature:
            return name
    return None


@dataclass
class DecodedImage:
    """An opened, validated image whose pixels are decoded on demand at a chosen scale.

    ``width`` and ``height`` are the full size after EXIF orientation: the coordinate system
    of every box the pipeline reports. :meth:`pixels` returns an array and its scale relative
    to that full size.
    """

    data: bytes
    format: str
    width: int
    height: int
    orientation: int
    mode: str = "RGB"  # Pillow's mode of the stored pixels, from the header
    # The one decode kept, as (reduction, pixels): a larger decode also serves smaller requests
    # and makes a smaller one useless, so the largest so far is all there is to keep.
    _decoded: tuple[int, np.ndarray] | None = field(default=None, repr=False)

    def pixels(self, min_scale: float = 1.0) -> tuple[np.ndarray, float]:
        """Upright RGB uint8 pixels at the smallest available scale >= ``min_scale``."""
        wanted = self._reduction_for(min_scale)
        if self._decoded is None or self._decoded[0] > wanted:
            self._decoded = (wanted, self._decode(wanted))
        array = self._decoded[1]
        return array, array.shape[1] / self.width

    def _reduction_for(self, min_scale: float) -> int:
        """The largest JPEG DCT reduction (1, 2, 4, 8) that still gives ``min_scale``."""
        if self.format != "JPEG" or min_scale >= 1.0:
            return 1
        for reduction in (8, 4, 2):
            if 1.0 / reduction >= min_scale:
                return reduction
        return 1

    def _decode(self, reduction: int) -> np.ndarray:
        fast = self._decode_with_opencv(reduction)
        return fast if fast is not None else self._decode_with_pillow(reduction)

    def _decode_with_opencv(self, reduction: int) -> np.ndarray | None:
        """Upright RGB of a complete YCbCr JPEG by libjpeg-turbo, or None to let Pillow decode it.

        libjpeg pads a cut-off JPEG with grey and only warns, so only data that ends with its
        end-of-image marker is taken (a cut one goes to Pillow and its "truncated" error).
        """
        if self.format != "JPEG" or self.mode != "RGB" or not self.data.rstrip(b"\0").endswith(_JPEG_END):
            return None
        rgb = cv2.imdecode(np.frombuffer(self.data, dtype=np.uint8), _CV_REDUCED[reduction])
        swapped = self.orientation in _SWAPS_AXES
        stored = (self.height, self.width) if swapped else (self.width, self.height)
        if rgb is None or rgb.shape != (-(-stored[1] // reduction), -(-stored[0] // reduction), 3):
            return None
        transpose, flip, rotate = _UPRIGHT_CV.get(self.orientation, (False, None, None))
        if transpose:
            rgb = cv2.transpose(rgb)
        if flip is not None:
            rgb = cv2.flip(rgb, flip)
        if rotate is not None:
            rgb = cv2.rotate(rgb, rotate)
        return rgb

    def _decode_with_pillow(self, reduction: int) -> np.ndarray:
        image = _open(self.data)
        try:
            if reduction > 1:
                stored_w, stored_h = image.size
                # Pillow picks the largest DCT scale with size // requested >= scale: floor, not ceil.
                image.draft("RGB", (max(1, stored_w // reduction), max(1, stored_h // reduction)))
            image.load()
        except OSError as exc:
            message = str(exc)
            if "decoder" in message and "not available" in message:
                raise UnsupportedFormatError(f"{self.format} image: {message}") from None
            raise TruncatedImageError(f"{self.format} image data is truncated or corrupt ({message})") from None
        except (SyntaxError, ValueError, EOFError, IndexError) as exc:
            raise TruncatedImageError(f"{self.format} image data is truncated or corrupt ({exc})") from None
        rgb = _to_rgb(image)
        if self.orientation in _UPRIGHT:
            rgb = rgb.transpose(_UPRIGHT[self.orientation])
        return np.asarray(rgb)


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        foreign = _foreign_format(data)
        if foreign:
            raise UnsupportedFormatError(f"{foreign} images are not supported") from None
        raise NotAnImageError("the data is not an image in a known format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise TruncatedImageError(f"the image header is truncated or corrupt ({exc})") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB of any mode: alpha over white, 16-bit and float samples rescaled, CMYK converted."""
    if image.mode == "RGB":
        return image
    if image.mode in {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}:
        samples = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or samples.max(initial=0) > 255 else 255.0
        gray = np.clip(samples / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    has_alpha = image.mode in {"RGBA", "LA", "PA", "La", "RGBa"} or (
        image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def open_image(data: bytes, max_pixels: int) -> DecodedImage:
    """Identify and size-check the image without decoding its pixels.

    The pixel limit is checked on the header, before any decoding, so a decompression bomb
    costs nothing. Truncated or corrupt pixel data is found when :meth:`DecodedImage.pixels`
    decodes it.
    """
    if not data:
        raise NotAnImageError("the data is empty")
    image = _open(data)
    stored_w, stored_h = image.size
    if stored_w * stored_h > max_pixels:
        raise ImageTooLargeError(
            f"{image.format} image is {stored_w}x{stored_h} = {stored_w * stored_h:,} pixels, "
            f"more than the limit of {max_pixels:,} (MAX_IMAGE_PIXELS)")
    if stored_w < 1 or stored_h < 1:
        raise NotAnImageError(f"{image.format} image has no pixels ({stored_w}x{stored_h})")
    try:
        orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block should not cost the photo; treat it as upright
        orientation = 1
    if orientation not in range(1, 9):
        orientation = 1
    width, height = (stored_h, stored_w) if orientation in _SWAPS_AXES else (stored_w, stored_h)
    return DecodedImage(data=data, format=image.format or "unknown", width=width, height=height,
                        orientation=orientation, mode=image.mode)
