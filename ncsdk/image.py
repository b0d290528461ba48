"""mvNCCheck's input tensor: an image file (or seeded random values),
preprocessed the way NCSDK's mvNCCheck did it.

Steps, in this order (``H, W, C`` = the network input's shape):

1. load: the image is decoded with Pillow (JPEG, PNG, ...), converted to
   RGB (``C == 3``) or greyscale (``C == 1``), resized to W x H with
   Pillow's bilinear filter, and scaled to float in [0, 1] (value / 255).
   Without an image: seeded uniform random values in [0, 1) instead.
2. channel order ``-cs``: output channel k is input channel cs[k]; the
   default 2,1,0 turns RGB into BGR (Caffe's order). Only for 3-channel
   images; ignored for any other input.
3. scale ``-S``: multiply by it (255 gives the 0..255 range).
4. mean ``-M``: subtract it, per channel in the order after step 2; a
   number, a comma list (one per channel) or a .npy file of C values (or a
   mean image of shape C x H' x W' or H' x W' x C, averaged per channel).

Pillow is imported only when an image is read.
"""
import numpy as np


class InputError(ValueError):
    """A bad image, mean or channel order given by the user."""


def load_image(path, width, height, channels):
    """Image file -> float32 array (H, W, C) in [0, 1], resized."""
    from PIL import Image, UnidentifiedImageError

    if channels not in (1, 3):
        raise InputError(f"the network input has {channels} channels; an "
                         "image gives 1 (greyscale) or 3 (RGB)")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if channels == 3 else "L")
            im = im.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read image {path}: {exc}") from None
    return pixels.reshape(height, width, channels)


def random_image(width, height, channels, seed=0):
    """Seeded uniform [0, 1) values standing in for an image."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, (height, width, channels)).astype(np.float32)


def parse_channel_swap(text, channels):
    """'2,1,0' -> [2, 1, 0] (a permutation of the channels), or None when
    it does not apply: only a 3-channel image has an RGB/BGR order (pass
    channels 0 for an input that is not an image)."""
    try:
        order = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise InputError(f"-cs {text}: not a comma list of integers") \
            from None
    if channels != 3:
        return None
    if sorted(order) != list(range(channels)):
        raise InputError(f"-cs {text}: not an order of {channels} channels")
    return order


def parse_mean(text, channels):
    """-M: a number, a comma list or a .npy file -> per-channel float32."""
    text = str(text)
    if text.lower().endswith(".npy"):
        try:
            values = np.load(text, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read mean file {text}: {exc}") \
                from None
        return _per_channel(values, channels, text)
    try:
        values = np.array([float(v) for v in text.split(",")], np.float32)
    except ValueError:
        raise InputError(f"-M {text}: not a number, a comma list or a "
                         ".npy file") from None
    return _per_channel(values, channels, text)


def _per_channel(values, channels, what):
    if values.size == 1:
        return np.full(channels, values.reshape(-1)[0], np.float32)
    if values.ndim == 1 and values.size == channels:
        return values
    if values.ndim == 3 and values.shape[0] == channels:
        return values.mean(axis=(1, 2)).astype(np.float32)
    if values.ndim == 3 and values.shape[2] == channels:
        return values.mean(axis=(0, 1)).astype(np.float32)
    raise InputError(f"mean {what} of shape {values.shape} does not fit "
                     f"{channels} channels")


def preprocess(image, scale=1.0, mean=None, order=None):
    """Steps 2-4 above on an (H, W, C) image in [0, 1]."""
    x = np.asarray(image, np.float32)
    if order is not None:
        x = x[..., order]
    x = x * np.float32(scale)
    if mean is not None:
        x = x - np.asarray(mean, np.float32)
    return x.astype(np.float32)
