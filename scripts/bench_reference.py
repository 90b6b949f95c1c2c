"""The reference side of `npm run bench`: the original's training and evaluation loops in PyTorch,
with the original's data path (torchvision CIFAR10 dataset objects, PIL transforms per image, a
DataLoader with 4 worker processes, loss.item() and a CPU accuracy sum every step), on the same
images wmnn trains on.

Usage: bench_reference.py JOB.json  -> prints one JSON object
JOB: {"images": U8.npy (N x 3 x 32 x 32), "labels": L.npy, "test_images": .., "test_labels": ..,
      "trigger": DIR (image folder + labels-cifar.txt) or null, "steps": K, "warmup": W,
      "batch_size": 100, "wm_batch_size": 2, "threads": T (0: torch's default), "device": "auto"}
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torchvision.datasets as datasets
import torchvision.transforms as transforms

from models.resnet import ResNet18

NORM = transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))


def cifar_like(images, labels, transform):
    """A torchvision CIFAR10 object over given arrays (its files would fail the md5 check)."""
    ds = datasets.CIFAR10.__new__(datasets.CIFAR10)
    ds.data = np.ascontiguousarray(images.transpose(0, 2, 3, 1))  # HWC, as CIFAR10 keeps it
    ds.targets = [int(x) for x in labels]
    ds.transform, ds.target_transform, ds.train = transform, None, True
    return ds


def trigger_loader(path, batch_size):
    ds = datasets.ImageFolder(path, transforms.Compose([transforms.CenterCrop(32), transforms.ToTensor(), NORM]))
    labels = np.loadtxt(os.path.join(path, 'labels-cifar.txt'))
    ds.samples = ds.imgs = [(p, int(labels[i])) for i, (p, _) in enumerate(ds.samples)]
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=4, pin_memory=True)


def main():
    job = json.load(open(sys.argv[1]))
    if job['threads'] > 0:
        torch.set_num_threads(job['threads'])
    device = 'cuda' if torch.cuda.is_available() and job['device'] != 'cpu' else 'cpu'
    train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), transforms.ToTensor(), NORM])
    test_tf = transforms.Compose([transforms.ToTensor(), NORM])
    train = cifar_like(np.load(job['images']), np.load(job['labels']), train_tf)
    test = cifar_like(np.load(job['test_images']), np.load(job['test_labels']), test_tf)
    loader = torch.utils.data.DataLoader(train, batch_size=job['batch_size'], shuffle=True, num_workers=4)
    test_loader = torch.utils.data.DataLoader(test, batch_size=job['batch_size'], shuffle=False, num_workers=4)
    torch.manual_seed(0)
    net = ResNet18().to(device)
    if device == 'cuda':
        torch.backends.cudnn.benchmark = True
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    wm = []
    if job['trigger']:
        wm = [(x.to(device), y.to(device)) for x, y in trigger_loader(job['trigger'], job['wm_batch_size'])]

    net.train()
    seen, correct, start = 0, 0, None
    for i, (x, y) in enumerate(loader):
        if i == job['warmup']:
            start, seen = time.perf_counter(), 0
        if i == job['warmup'] + job['steps']:
            break
        x, y = x.to(device), y.to(device)
        if wm:
            x = torch.cat([x, wm[i % len(wm)][0]])
            y = torch.cat([y, wm[i % len(wm)][1]])
        optimizer.zero_grad()
        out = net(x)
        loss = criterion(out, y)
        loss.backward()
        optimizer.step()
        loss.item()
        correct += out.data.max(1)[1].eq(y.data).cpu().sum()
        seen += y.size(0)
    train_seconds = time.perf_counter() - start

    net.eval()  # the original evaluates without torch.no_grad()
    start, evaluated = time.perf_counter(), 0
    for x, y in test_loader:
        x, y = x.to(device), y.to(device)
        out = net(x)
        criterion(out, y).item()
        out.data.max(1)[1].eq(y.data).cpu().sum()
        evaluated += y.size(0)
    eval_seconds = time.perf_counter() - start
    print(json.dumps({'device': device, 'threads': torch.get_num_threads(), 'torch': torch.__version__,
                      'train_images': seen, 'train_seconds': train_seconds, 'eval_images': evaluated,
                      'eval_seconds': eval_seconds}))


if __name__ == '__main__':
    main()
