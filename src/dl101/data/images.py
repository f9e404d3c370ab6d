"""A user's picture files: whether one is gray or in colour, as its file says, and one that is
not a readable image refused in one line; and pictures of digits brought to MNIST's
distribution: light digit on a dark background, the digit fitted in a 20x20 box and centred by
its centre of mass in 28x28, as MNIST's images were made. Pixels stay raw (0..255): the model's
own normalization follows."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision.transforms.v2.functional as F
from PIL import Image, UnidentifiedImageError

from dl101.errors import InputError

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
SIZE, BOX = 28, 20  # MNIST: digits fitted in 20x20, centred in 28x28
# PIL's modes of one gray channel (with alpha: LA; of 16 or 32 bits: I, F); a palette ("P") is
# gray where each of its colours is.
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def unreadable(path: Path, err: Exception) -> str:
    """What is wrong with a file that is not a readable image, for a one-line error."""
    reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"{path} is not an image that can be read ({reason})"


def is_gray(image: Image.Image) -> bool:
    """Whether the image holds gray levels only: as its mode declares, or for a palette image
    (GIF, some PNGs), where each colour its pixels use is a gray."""
    if image.mode in ("P", "PA"):
        palette = image.getpalette() or []
        used = [index for _, index in image.getcolors(maxcolors=256) or []]
        return all(palette[3 * i] == palette[3 * i + 1] == palette[3 * i + 2] for i in used)
    return image.mode in GRAY_MODES


def picture_mode(path: Path) -> tuple[str, bool]:
    """The file's PIL mode and whether it is gray, from its header; OSError (PIL's
    UnidentifiedImageError among them) where the file is not an image."""
    with Image.open(path) as image:
        return image.mode, is_gray(image)


def load_picture(path: Path, mode: str) -> Image.Image:
    """The image converted to `mode` ("L": gray, "RGB"), every pixel read: a truncated file
    fails here, as an OSError."""
    with Image.open(path) as image:
        return image.convert(mode)


def image_files(path: str | Path) -> list[Path]:
    """The image, or the images of a folder (sorted by name)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise InputError(
                f"input={path}: a folder without images ({', '.join(sorted(SUFFIXES))})"
            )
        return files
    if not path.is_file():
        raise InputError(
            f"input={path}: no such file or folder (give an image or a folder of them)"
        )
    return [path]


def read_gray(path: Path) -> torch.Tensor:
    """The image as gray levels (H, W) in 0..255; a transparent background's alpha is its ink."""
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(f"input={path}: not an image that can be read ({err})") from None
    if "A" in image.getbands() and image.getchannel("A").getextrema()[0] < 255:
        return F.pil_to_tensor(image.getchannel("A"))[0].float()
    return F.pil_to_tensor(image.convert("L"))[0].float()


def background(gray: torch.Tensor) -> float:
    """The background's gray level: the median of the image's border."""
    return float(torch.cat([gray[0], gray[-1], gray[:, 0], gray[:, -1]]).median())


def light_on_dark(gray: torch.Tensor) -> torch.Tensor:
    """Inverted if the background (the border's median) is lighter than mid-gray, then the
    background level subtracted and the contrast stretched to 0..255."""
    if background(gray) > 127.5:
        gray = 255 - gray
    ink = (gray - background(gray)).clamp(min=0)
    if ink.max() <= 0:
        raise ValueError("no digit stands out from the background")
    return ink * (255 / ink.max())


def centre_of_mass(image: torch.Tensor) -> list[float]:
    """(row, column) of the image's centre of mass, in pixel indices."""
    return [
        float((torch.arange(n, dtype=torch.float32) * image.sum(dim=1 - axis)).sum() / image.sum())
        for axis, n in enumerate(image.shape)
    ]


def centred_like_mnist(ink: torch.Tensor) -> torch.Tensor:
    """The digit's bounding box scaled (aspect kept) into 20x20, placed in 28x28 with its centre
    of mass at the centre (MNIST's images: 14.0 +- 0.3 on both axes)."""
    rows, cols = torch.nonzero(ink > 0.1 * 255, as_tuple=True)
    digit = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = BOX / max(digit.shape)
    size = [max(1, round(digit.shape[0] * scale)), max(1, round(digit.shape[1] * scale))]
    digit = F.resize(digit[None], size, antialias=True)[0].clamp(0, 255)
    top, left = (
        min(max(round(SIZE / 2 - c), 0), SIZE - n)
        for c, n in zip(centre_of_mass(digit), size, strict=True)
    )
    canvas = torch.zeros(SIZE, SIZE)
    canvas[top : top + size[0], left : left + size[1]] = digit
    # Whole pixels leave the centre up to half a pixel off: move the rest by interpolation.
    dy, dx = (SIZE / 2 - c for c in centre_of_mass(canvas))
    moved = F.affine(
        canvas[None], angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0],
        interpolation=F.InterpolationMode.BILINEAR,
    )  # fmt: skip
    return moved[0]


def mnist_like(path: Path) -> torch.Tensor:
    """One picture -> (1, 28, 28) raw pixels as MNIST's. A 28x28 image is taken as MNIST's own
    format (only made light-on-dark); any other size is cropped, scaled and centred."""
    gray = read_gray(path)
    if tuple(gray.shape) == (SIZE, SIZE):
        return (255 - gray if background(gray) > 127.5 else gray)[None]
    try:
        return centred_like_mnist(light_on_dark(gray))[None]
    except ValueError as err:
        raise InputError(f"input={path}: a blank image ({err})") from None
