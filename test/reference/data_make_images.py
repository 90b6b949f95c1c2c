"""Writes an image-folder fixture in every format and mode wmnn's readers claim to match PIL on.

usage: data_make_images.py OUT_DIR
Class folders a/ and b/ (plus nested folders, ignored files and a stray root file); random pixels
from a fixed seed; sizes chosen so CenterCrop hits half-to-even rounding and zero padding.
"""
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

out = sys.argv[1]
rng = np.random.RandomState(0)


def noise(h, w, c):
    return rng.randint(0, 256, size=(h, w, c) if c > 1 else (h, w), dtype=np.uint8)


def smooth(h, w):
    # JPEG of pure noise is a poor test of the decoder's upsampling; gradients plus noise are better.
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 127 // max(h + w - 2, 1)], -1)
    return np.clip(base + rng.randint(-20, 21, size=(h, w, 3)), 0, 255).astype(np.uint8)


def path(*parts):
    p = os.path.join(out, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def write_png16(p, samples, color_type):
    """A 16-bit PNG (PIL cannot write 16-bit colour): samples h x w x c, big-endian, no filtering."""
    h, w = samples.shape[:2]
    raw = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(p, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


a = lambda name: path("a", name)
b = lambda name: path("b", name)

# PNG in every 8-bit colour type; sizes give (45-32)/2 = 6.5 -> 6 and (37-32)/2 = 2.5 -> 2.
Image.fromarray(noise(37, 45, 3), "RGB").save(a("1.png"))
Image.fromarray(noise(40, 41, 4), "RGBA").save(a("10.png"))
Image.fromarray(noise(39, 39, 2), "LA").save(a("100.PNG"))
Image.fromarray(noise(50, 33, 1), "L").save(a("11.png"))
pal = Image.fromarray(noise(34, 36, 3), "RGB").quantize(colors=50)
pal.info["transparency"] = 3
pal.save(a("2.png"), transparency=3)
Image.fromarray(noise(35, 35, 1) > 127).save(a("3.png"))
# 16 bits: PIL takes the high byte of colour samples, and clips 16-bit grey (mode I) at 255.
Image.fromarray(rng.randint(0, 1024, size=(33, 34)).astype(np.uint16)).save(a("12.png"))
write_png16(a("13.png"), rng.randint(0, 65536, size=(34, 33, 3)), 2)
write_png16(a("14.png"), rng.randint(0, 65536, size=(35, 33, 4)), 6)
write_png16(a("15.png"), rng.randint(0, 65536, size=(33, 36, 2)), 4)
grey_trns = Image.fromarray(noise(33, 33, 1), "L")
grey_trns.save(a("16.png"), transparency=7)
rgb_trns = noise(34, 34, 3)
rgb_trns[5:30, 5:30] = (10, 20, 30)
Image.fromarray(rgb_trns, "RGB").save(a("17.png"), transparency=(10, 20, 30))
# Smaller than 32: torchvision pads with zeros.
Image.fromarray(noise(50, 20, 3), "RGB").save(a("4.png"))
Image.fromarray(noise(10, 11, 3), "RGB").save(a("5.bmp"))
# BMP: 24-bit, 8-bit palette, 32-bit.
Image.fromarray(noise(35, 33, 3), "RGB").save(a("6.bmp"))
Image.fromarray(noise(36, 34, 3), "RGB").quantize(colors=200).save(a("7.bmp"))
Image.fromarray(noise(33, 38, 4), "RGBA").save(a("8.bmp"))
# PNM: raw and plain, 8-bit and other maxvals, bitmaps (content sniffed, whatever the extension).
Image.fromarray(noise(41, 35, 1), "L").save(a("9.pgm"))
Image.fromarray(noise(36, 36, 3), "RGB").save(a("9.ppm"))
with open(a("plain.ppm"), "wb") as f:
    v = rng.randint(0, 101, size=33 * 34 * 3)
    f.write(b"P3\n# a comment\n33 34\n100\n" + "\n".join(" ".join(map(str, v[i:i + 9])) for i in range(0, v.size, 9)).encode() + b"\n")
with open(a("deep.pgm"), "wb") as f:
    f.write(b"P5 34 33 65535\n" + rng.randint(0, 600, size=34 * 33).astype(">u2").tobytes())
with open(a("deep.ppm"), "wb") as f:
    f.write(b"P6\n34 35\n1000\n" + rng.randint(0, 1001, size=34 * 35 * 3).astype(">u2").tobytes())
with open(a("low.pgm"), "wb") as f:
    f.write(b"P5\n33 33\n7\n" + rng.randint(0, 8, size=33 * 33).astype(np.uint8).tobytes())
with open(a("plain.pgm"), "wb") as f:
    v = rng.randint(0, 301, size=33 * 33)
    f.write(b"P2 33 33 300\n" + " ".join(map(str, v)).encode())
Image.fromarray(noise(34, 37, 1) > 100).save(path("a", "bits.ppm"), format="PPM")  # P4
with open(a("plainbits.pgm"), "wb") as f:
    v = rng.randint(0, 2, size=33 * 34)
    f.write(b"P1\n34 33\n" + "".join(map(str, v)).encode())
# JPEG: 4:2:0, 4:4:4, progressive, greyscale, CMYK (Adobe-inverted, as PIL writes it).
Image.fromarray(smooth(70, 91), "RGB").save(b("1.jpg"), quality=90)
Image.fromarray(smooth(64, 48), "RGB").save(b("2.JPEG"), quality=75, subsampling=0)
Image.fromarray(smooth(57, 77), "RGB").save(b("3.jpg"), quality=85, progressive=True)
Image.fromarray(smooth(45, 45)[:, :, 0], "L").save(b("4.jpg"), quality=80)
Image.fromarray(noise(40, 40, 4), "CMYK").save(b("5.jpg"), quality=90)
# JPEGs with a side under 32: CenterCrop pads them, so only part of the crop comes from the picture.
Image.fromarray(smooth(50, 21), "RGB").save(b("8.jpg"), quality=90)
Image.fromarray(smooth(19, 27), "RGB").save(b("9.jpg"), quality=90, subsampling=1)
# A PNG named .jpg (as two files of the paper's trigger set are).
Image.fromarray(noise(40, 52, 4), "RGBA").save(b("6.jpg"), format="PNG")
# Order: os.walk roots sorted by full path ("b/n o" < "b/n/x" since ' ' < '/'), names as strings.
Image.fromarray(smooth(33, 33), "RGB").save(b("n/x/1.png"))
Image.fromarray(smooth(34, 34), "RGB").save(b("n o/1.png"))
Image.fromarray(smooth(35, 33), "RGB").save(b("n/2.png"))
Image.fromarray(smooth(36, 35), "RGB").save(b("n/10.png"))
# Not images by extension, or outside any class folder: ignored.
Image.fromarray(noise(33, 33, 3), "RGB").save(b("7.gif"))
with open(b("notes.txt"), "w") as f:
    f.write("not an image\n")
Image.fromarray(noise(33, 33, 3), "RGB").save(path("stray.png"))
