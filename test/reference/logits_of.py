"""Eval-mode logits of checkpoints as PyTorch loads them, for the engine-side reading tests.

Usage: logits_of.py X.npy OUTDIR FILE...  -> OUTDIR/<basename>.npy for each FILE
A file whose 'net' (or top level) is a module is used as loaded; a state_dict (with or without
DataParallel's 'module.' prefix) goes into a fresh models.resnet.ResNet18 of the right width.
"""
import os
import sys

import numpy as np
import torch

from models.resnet import ResNet18

torch.set_num_threads(1)
x = torch.from_numpy(np.load(sys.argv[1]))
for path in sys.argv[3:]:
    obj = torch.load(path, map_location='cpu')
    net = obj.get('net', obj.get('state_dict', obj)) if isinstance(obj, dict) else obj
    if isinstance(net, torch.nn.DataParallel):
        net = net.module
    if isinstance(net, dict):
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in net.items()}
        model = ResNet18(state['linear.weight'].shape[0])
        model.load_state_dict(state)
        net = model
    net.eval()
    with torch.no_grad():
        np.save(os.path.join(sys.argv[2], os.path.basename(path) + '.npy'), net(x).numpy())
