"""Reference for wmnn's image readers: torchvision 0.14 + PIL, run with /usr/bin/python3.

usage: data_images.py ROOT crop|resize [LABELS_FILE]
Prints JSON: files and targets in torchvision ImageFolder's sample order, the images after
convert('RGB') + CenterCrop(32) (crop) or Resize((32, 32)) (resize) as base64 uint8 N x 3 x 32 x 32,
and, given LABELS_FILE, int(label) of numpy.loadtxt's values as the original does.
"""
import base64
import json
import sys

import numpy as np
import torchvision
from torchvision import transforms

root, mode = sys.argv[1], sys.argv[2]
transform = transforms.CenterCrop(32) if mode == "crop" else transforms.Resize((32, 32))
folder = torchvision.datasets.ImageFolder(root, transform=transform)
pixels = bytearray()
for i in range(len(folder)):
    image, _ = folder[i]
    pixels += np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).tobytes()
result = {
    "files": [path for path, _ in folder.samples],
    "targets": [target for _, target in folder.samples],
    "pixels": base64.b64encode(bytes(pixels)).decode(),
}
if len(sys.argv) > 3:
    result["labels"] = [int(v) for v in np.atleast_1d(np.loadtxt(sys.argv[3]))]
json.dump(result, sys.stdout)
