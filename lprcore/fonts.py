"""Find a CJK font for rendering Chinese plate characters (synthetic plates, annotated images).

The font comes from the PyPI package ``noto-cjk-sans-otc`` (Noto Sans CJK, SIL OFL 1.1), which the
README's install step installs. ``LPR_CJK_FONT`` (an environment variable holding a font path) overrides it.
"""
from __future__ import annotations

import functools
import os
from importlib import resources

#: Face of Noto Sans CJK SC (Simplified Chinese) inside the NotoSansCJK-Regular.ttc collection.
NOTO_SC_INDEX = 2


class FontNotFoundError(RuntimeError):
    """No CJK font is available; the message says what to install."""


@functools.lru_cache(maxsize=None)
def find_cjk_font() -> tuple[str, int]:
    """Return ``(path, face_index)`` of a font that renders Chinese characters.

    Raises:
        FontNotFoundError: neither ``LPR_CJK_FONT`` nor the ``noto-cjk-sans-otc`` package is there.
    """
    env = os.environ.get("LPR_CJK_FONT")
    if env:
        if not os.path.isfile(env):
            raise FontNotFoundError(f"LPR_CJK_FONT={env!r} is not a file")
        return env, 0
    try:
        path = resources.files("noto_cjk_sans_otc") / "NotoSansCJK-Regular.ttc"
    except ModuleNotFoundError:
        raise FontNotFoundError(
            "no CJK font: run `pip install noto-cjk-sans-otc` (see the README's Install section) "
            "or set LPR_CJK_FONT to a .ttf/.ttc/.otf file") from None
    if not path.is_file():
        raise FontNotFoundError(f"{path} is missing: reinstall noto-cjk-sans-otc")
    return str(path), NOTO_SC_INDEX


@functools.lru_cache(maxsize=64)
def load_font(size: int):
    """A ``PIL.ImageFont.FreeTypeFont`` of the CJK font at ``size`` pixels (cached)."""
    from PIL import ImageFont

    path, index = find_cjk_font()
    return ImageFont.truetype(path, size=size, index=index)
