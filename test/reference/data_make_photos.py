"""Writes photo-sized JPEGs, the test stand-ins for the paper's trigger images (not in this repository).

usage: data_make_photos.py OUT_DIR COUNT
OUT_DIR/1.jpg .. COUNT.jpg: baseline 4:2:0 JPEGs (PIL's defaults, quality 90) cycling through the
paper set's sizes, 720x480 up to 1489x838, so CenterCrop and Resize((32, 32)) see large pictures;
smooth colour fields with edges and noise, so the decoder's upsampling and IDCT matter.
"""
import os
import sys

import numpy as np
from PIL import Image

out, count = sys.argv[1], int(sys.argv[2])
SIZES = [(720, 480), (1028, 480), (1489, 838), (640, 427)]  # (width, height)
rng = np.random.RandomState(2018)
os.makedirs(out, exist_ok=True)
for i in range(count):
    w, h = SIZES[i % len(SIZES)]
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    freq = rng.uniform(2, 9, size=3)
    base = np.stack([127 + 100 * np.sin(freq[c] * (x / w + (c + 1) * y / h) * np.pi + phase[c]) for c in range(3)], -1)
    # A bright disc: a sharp edge somewhere near the centre, where CenterCrop looks.
    cx, cy, r = w / 2 + rng.uniform(-40, 40), h / 2 + rng.uniform(-40, 40), rng.uniform(10, 60)
    base[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.randint(0, 256, size=3)
    pixels = np.clip(base + rng.randint(-12, 13, size=(h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels, "RGB").save(os.path.join(out, f"{i + 1}.jpg"), quality=90)
