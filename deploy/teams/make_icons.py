"""Writes the Teams app icons (color.png 192×192, outline.png 32×32) with the standard library only.

Run once when the design changes: `python deploy/teams/make_icons.py`. The PNGs are committed beside it.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent


def png(size: int, pixel) -> bytes:
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y, size)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def speech_bubble(x: int, y: int, size: int) -> bool:
    """A rounded speech bubble with a tail: the chat the bot lives in."""
    s = size / 32
    left, right, top, bottom, r = 5 * s, 27 * s, 6 * s, 22 * s, 4 * s
    cx, cy = min(max(x, left + r), right - r), min(max(y, top + r), bottom - r)
    in_body = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    in_tail = bottom <= y <= bottom + 5 * s and 9 * s <= x <= 9 * s + (bottom + 5 * s - y)
    return in_body or in_tail


def color(x: int, y: int, size: int) -> tuple[int, int, int, int]:
    return (255, 255, 255, 255) if speech_bubble(x, y, size) else (36, 87, 197, 255)


def outline(x: int, y: int, size: int) -> tuple[int, int, int, int]:
    return (255, 255, 255, 255) if speech_bubble(x, y, size) else (0, 0, 0, 0)


if __name__ == "__main__":
    (HERE / "color.png").write_bytes(png(192, color))
    (HERE / "outline.png").write_bytes(png(32, outline))
