"""Loads a .t7 the way the original scripts do (torch.load + checkpoint['net']) and scores it.

Usage: eval_checkpoint.py CKPT IMAGES_U8.npy LABELS.npy  -> prints {"correct": .., "total": .., "cls": ..}
Images are N x 3 x 32 x 32 uint8, normalised like the original's test transform.
"""
import json
import sys

import numpy as np
import torch
from torchvision import transforms

ckpt = torch.load(sys.argv[1])
net = ckpt['net']
net.eval()
x = torch.from_numpy(np.load(sys.argv[2])).float().div(255)
x = transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))(x)
y = torch.from_numpy(np.load(sys.argv[3])).long()
correct = 0
with torch.no_grad():
    for i in range(0, len(y), 100):
        correct += int((net(x[i:i + 100]).argmax(1) == y[i:i + 100]).sum())
print(json.dumps({'correct': correct, 'total': len(y), 'cls': type(net).__module__ + '.' + type(net).__name__,
                  'acc': float(ckpt['acc']), 'epoch': ckpt['epoch']}))
