#!/usr/bin/env python3
"""Draws the sample pictures in public/samples/ (made by the project, CC0): a garment on a plain
background, and a person-like figure, as PNG with nothing but the standard library. Run again
to regenerate them; the output is deterministic."""
import struct, zlib, os

def png(path, w, h, pixel):
    rows = bytearray()
    for y in range(h):
        rows.append(0)
        for x in range(w):
            rows.extend(pixel(x, y))
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)

def shirt(colour):
    # A T-shirt: body and sleeves on white.
    def pixel(x, y):
        body = 90 <= x <= 210 and 60 <= y <= 280
        sleeves = 40 <= x <= 260 and 60 <= y <= 130 and abs(x - 150) >= 60
        collar = 130 <= x <= 170 and 60 <= y <= 80
        if (body or sleeves) and not collar:
            return colour
        return (250, 250, 250)
    return pixel

def person(x, y):
    # A figure: head, torso, legs, on a light wall.
    head = (x - 150) ** 2 + (y - 70) ** 2 <= 35 ** 2
    torso = 95 <= x <= 205 and 110 <= y <= 270
    arms = 60 <= x <= 240 and 115 <= y <= 240 and not (95 <= x <= 205)
    legs = (105 <= x <= 145 or 155 <= x <= 195) and 270 <= y <= 390
    if head:
        return (224, 180, 150)
    if torso:
        return (200, 200, 205)
    if arms:
        return (224, 180, 150)
    if legs:
        return (60, 70, 110)
    return (236, 232, 224)

root = os.path.join(os.path.dirname(__file__), "..", "public", "samples")
os.makedirs(root, exist_ok=True)
png(os.path.join(root, "garment-green-shirt.png"), 300, 340, shirt((46, 125, 80)))
png(os.path.join(root, "garment-red-shirt.png"), 300, 340, shirt((170, 40, 50)))
png(os.path.join(root, "person.png"), 300, 400, person)
