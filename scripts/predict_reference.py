"""The reference side of the cold-start benchmark: what `python predict.py --testwm` does --
import torch, load the checkpoint with torch.load, build the trigger set with torchvision's
ImageFolder + CenterCrop, evaluate with batch 100 -- timed by the caller from process start.

Usage: predict_reference.py CKPT TRIGGER_DIR  -> prints {"correct": .., "total": ..}
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision.datasets as datasets
import torchvision.transforms as transforms

ckpt, path = sys.argv[1], sys.argv[2]
tf = transforms.Compose([transforms.CenterCrop(32), transforms.ToTensor(),
                         transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))])
ds = datasets.ImageFolder(path, tf)
labels = np.loadtxt(os.path.join(path, 'labels-cifar.txt'))
ds.samples = ds.imgs = [(p, int(labels[i])) for i, (p, _) in enumerate(ds.samples)]
loader = torch.utils.data.DataLoader(ds, batch_size=100, shuffle=True, num_workers=4, pin_memory=True)
net = torch.load(ckpt)['net']
net.eval()
correct = total = 0
for x, y in loader:
    out = net(x)
    correct += int(out.data.max(1)[1].eq(y).sum())
    total += y.size(0)
print(json.dumps({'correct': correct, 'total': total}))
