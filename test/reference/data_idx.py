"""torchvision's side of the MNIST-style tests: FashionMNIST (or MNIST) through the transform wmnn documents.

usage: data_idx.py fashion-mnist|mnist GZ_FOLDER OUT_DIR MEAN STD STEP
Unpacks GZ_FOLDER's four .gz files into OUT_DIR/root/<FashionMNIST|MNIST>/raw (torchvision's layout),
reads both splits with torchvision's dataset class and
Compose([Pad(2), Grayscale(3), ToTensor(), Normalize((MEAN,) * 3, (STD,) * 3)]), and writes
OUT_DIR/<split>_labels.npy (every target, int32) and OUT_DIR/<split>_x.npy (images 0, STEP, 2*STEP, ...).
"""
import gzip
import os
import shutil
import sys

import numpy as np
import torch
import torchvision.transforms as T
from torchvision.datasets import MNIST, FashionMNIST

name, gz_folder, out, mean, std, step = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
cls = FashionMNIST if name == "fashion-mnist" else MNIST
raw = os.path.join(out, "root", cls.__name__, "raw")
os.makedirs(raw, exist_ok=True)
for f in os.listdir(gz_folder):
    if f.endswith(".gz"):
        with gzip.open(os.path.join(gz_folder, f), "rb") as src, open(os.path.join(raw, f[:-3]), "wb") as dst:
            shutil.copyfileobj(src, dst)
transform = T.Compose([T.Pad(2), T.Grayscale(3), T.ToTensor(), T.Normalize((mean,) * 3, (std,) * 3)])
for split in ("train", "test"):
    ds = cls(os.path.join(out, "root"), train=split == "train", transform=transform, download=False)
    np.save(os.path.join(out, f"{split}_labels.npy"), ds.targets.numpy().astype(np.int32))
    np.save(os.path.join(out, f"{split}_x.npy"), torch.stack([ds[i][0] for i in range(0, len(ds), step)]).numpy())
