"""torchvision's side of the augmentation tests.

Usage:
  augment_ref.py crop U8.npy DX.npy DY.npy FLIP.npy OUT.npy
      each uint8 image (N x 3 x 32 x 32) as a PIL image through the original's train transform
      with the given draws: pad 4 with zeros, crop at (top=dy, left=dx), mirror if flip,
      ToTensor, Normalize
  augment_ref.py wm FOLDER LABELS OUT.npy
      the original's trigger-set transform (CenterCrop(32), ToTensor, Normalize) over the
      ImageFolder order -> N x 3 x 32 x 32 float32
"""
import sys

import numpy as np
import torch
import torchvision.datasets as datasets
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

NORM = T.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))

if sys.argv[1] == 'crop':
    u8, dx, dy, flip = (np.load(p) for p in sys.argv[2:6])
    out = []
    for img, x, y, f in zip(u8, dx, dy, flip):
        pil = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)))
        pil = F.crop(F.pad(pil, 4, fill=0, padding_mode='constant'), int(y), int(x), 32, 32)
        if f:
            pil = F.hflip(pil)
        out.append(NORM(F.to_tensor(pil)))
    np.save(sys.argv[6], torch.stack(out).numpy())
else:
    ds = datasets.ImageFolder(sys.argv[2], T.Compose([T.CenterCrop(32), T.ToTensor(), NORM]))
    np.save(sys.argv[4], torch.stack([ds[i][0] for i in range(len(ds))]).numpy())
