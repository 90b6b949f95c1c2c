"""Writes photo-sized JPEGs, the test stand-ins for the paper's trigger images (not in this repository).

usage: data_make_photos.py OUT_DIR COUNT [variants]
OUT_DIR/1.jpg .. COUNT.jpg: baseline 4:2:0 JPEGs (PIL's defaults, quality 90) cycling through the
paper set's sizes, 720x480 up to 1489x838, so CenterCrop and Resize((32, 32)) see large pictures;
smooth colour fields with edges and noise, so the decoder's upsampling and IDCT matter.
With `variants`, also v-<kind>.jpg in every other layout libjpeg decodes differently: 4:2:2, 4:4:4,
4:1:1-like (PIL's 4:2:0 at odd sizes), progressive, greyscale, CMYK.
"""
import os
import sys

import numpy as np
from PIL import Image

out, count = sys.argv[1], int(sys.argv[2])
SIZES = [(720, 480), (1028, 480), (1489, 838), (640, 427)]  # (width, height)
rng = np.random.RandomState(2018)
os.makedirs(out, exist_ok=True)


def photo(w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    freq = rng.uniform(2, 9, size=3)
    base = np.stack([127 + 100 * np.sin(freq[c] * (x / w + (c + 1) * y / h) * np.pi + phase[c]) for c in range(3)], -1)
    # A bright disc: a sharp edge somewhere near the centre, where CenterCrop looks.
    cx, cy, r = w / 2 + rng.uniform(-40, 40), h / 2 + rng.uniform(-40, 40), rng.uniform(10, 60)
    base[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.randint(0, 256, size=3)
    return np.clip(base + rng.randint(-12, 13, size=(h, w, 3)), 0, 255).astype(np.uint8)


for i in range(count):
    w, h = SIZES[i % len(SIZES)]
    Image.fromarray(photo(w, h), "RGB").save(os.path.join(out, f"{i + 1}.jpg"), quality=90)
if len(sys.argv) > 3 and sys.argv[3] == "variants":
    save = lambda image, kind, **opts: image.save(os.path.join(out, f"v-{kind}.jpg"), quality=88, **opts)
    save(Image.fromarray(photo(333, 217), "RGB"), "420-odd")
    save(Image.fromarray(photo(400, 300), "RGB"), "422", subsampling=1)
    save(Image.fromarray(photo(401, 299), "RGB"), "444", subsampling=0)
    save(Image.fromarray(photo(500, 350), "RGB"), "progressive", progressive=True)
    save(Image.fromarray(photo(310, 250)[:, :, 1], "L"), "grey")
    save(Image.fromarray(photo(300, 200), "RGB").convert("CMYK"), "cmyk")
