"""Reference runs of the original's model math in PyTorch, for the engine tests.

Usage: engine_ref.py JOB.json   -- tensors are exchanged as .npy files in the job's folder.
Jobs:
  {"job": "init", "seed": S, "classes": C, "out": DIR}
      torch.manual_seed(S); ResNet18(C) -> DIR/<name>.npy for every state_dict entry
  {"job": "forward", "weights": DIR, "classes": C, "x": X.npy, "out": DIR}
      logits in eval mode (eval.npy), then in train mode (train.npy)
  {"job": "sgd", "weights": DIR, "classes": C, "images": U8.npy, "labels": L.npy, "batch": B,
   "steps": K, "lr": .., "momentum": .., "weight_decay": .., "only_linear": bool,
   "channels_last": bool, "out": DIR}
      K steps of the original's training step on batches [i*B, (i+1)*B) of the uint8 images,
      normalised as ToTensor + Normalize do; writes the state_dict and momentum.<name>.npy
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import transforms

from models.resnet import ResNet18

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def load(weights, classes):
    net = ResNet18(classes)
    sd = {k: torch.from_numpy(np.load(os.path.join(weights, k + '.npy'))) for k in net.state_dict()}
    net.load_state_dict(sd)
    return net


def save_state(net, out):
    os.makedirs(out, exist_ok=True)
    for k, v in net.state_dict().items():
        np.save(os.path.join(out, k + '.npy'), v.contiguous().numpy())


def main():
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(1)
    if job['job'] == 'init':
        torch.manual_seed(job['seed'])
        save_state(ResNet18(job['classes']), job['out'])
    elif job['job'] == 'forward':
        net = load(job['weights'], job['classes'])
        x = torch.from_numpy(np.load(job['x']))
        os.makedirs(job['out'], exist_ok=True)
        with torch.no_grad():
            net.eval()
            np.save(os.path.join(job['out'], 'eval.npy'), net(x).numpy())
            net.train()
            np.save(os.path.join(job['out'], 'train.npy'), net(x).numpy())
    elif job['job'] == 'sgd':
        net = load(job['weights'], job['classes'])
        images = torch.from_numpy(np.load(job['images']))
        labels = torch.from_numpy(np.load(job['labels'])).long()
        normalize = transforms.Normalize(MEAN, STD)
        layout = torch.channels_last if job.get('channels_last') else torch.contiguous_format
        net = net.to(memory_format=layout)
        if job['only_linear']:
            for name, p in net.named_parameters():
                p.requires_grad = name.startswith('linear.')
        opt = torch.optim.SGD(net.parameters(), lr=job['lr'], momentum=job['momentum'],
                              weight_decay=job['weight_decay'])
        net.train()
        b = job['batch']
        for i in range(job['steps']):
            x = normalize(images[i * b:(i + 1) * b].float().div(255)).contiguous(memory_format=layout)
            opt.zero_grad()
            loss = F.cross_entropy(net(x), labels[i * b:(i + 1) * b])
            loss.backward()
            opt.step()
        save_state(net, job['out'])
        for name, p in net.named_parameters():
            state = opt.state.get(p, {})
            if state.get('momentum_buffer') is not None:
                np.save(os.path.join(job['out'], 'momentum.' + name + '.npy'), state['momentum_buffer'].contiguous().numpy())
    else:
        raise SystemExit('unknown job ' + job['job'])


if __name__ == '__main__':
    main()
