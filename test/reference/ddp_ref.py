"""The reference for the data-parallel engine test: one PyTorch process computing what the ranks
of a DistributedDataParallel job compute together.

Usage: ddp_ref.py JOB.json
  {"init": DIR, "classes": C, "world": W, "lr": .., "out": DIR,
   "steps": [{"main": PREFIX | null, "trigger": PREFIX | null}, ...]}
Each step's global batch is PREFIX_x.npy / PREFIX_y.npy (main, then trigger), split into W
contiguous shards as src/distributed/shard.ts splits them. Per shard: BatchNorm in train mode on
that shard alone, starting from the buffers rank 0 broadcast; the summed loss's gradients are
added up and divided by the global batch size (DDP's average, weighted by shard size); rank 0's
buffers are what the next step starts from. SGD is torch.optim.SGD(momentum=0.9, wd=5e-4).
Writes OUT/<name>.npy for the state_dict and OUT/metrics.json (loss sum over steps, correct, total).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from engine_ref import load, save_state


def shard(n, rank, world):
    return rank * n // world, (rank + 1) * n // world


def part(prefix, rank, world):
    if prefix is None:
        return None
    x, y = torch.from_numpy(np.load(prefix + '_x.npy')), torch.from_numpy(np.load(prefix + '_y.npy')).long()
    a, b = shard(len(y), rank, world)
    return x[a:b], y[a:b]


def main():
    job = json.load(open(sys.argv[1]))
    torch.set_num_threads(1)
    net = load(job['init'], job['classes'])
    opt = torch.optim.SGD(net.parameters(), lr=job['lr'], momentum=0.9, weight_decay=5e-4)
    buffers = dict(net.named_buffers())
    world = job['world']
    loss_sum, correct, total = 0.0, 0, 0
    net.train()
    for step in job['steps']:
        start = {k: v.clone() for k, v in buffers.items()}
        rank0 = start
        opt.zero_grad()
        step_loss, step_n = 0.0, 0
        for r in range(world):
            pieces = [p for p in (part(step['main'], r, world), part(step['trigger'], r, world)) if p is not None]
            x = torch.cat([p[0] for p in pieces])
            y = torch.cat([p[1] for p in pieces])
            if len(y) == 0:
                continue
            for k, v in buffers.items():
                v.copy_(start[k])
            logits = net(x)
            loss = F.cross_entropy(logits, y) * len(y)
            loss.backward()
            step_loss += loss.item()
            step_n += len(y)
            correct += int((logits.argmax(1) == y).sum())
            if r == 0:
                rank0 = {k: v.clone() for k, v in buffers.items()}
        for k, v in buffers.items():
            v.copy_(rank0[k])
        for p in net.parameters():
            p.grad.div_(step_n)
        opt.step()
        loss_sum += step_loss / step_n
        total += step_n
    save_state(net, job['out'])
    json.dump({'lossSum': loss_sum, 'correct': correct, 'total': total}, open(os.path.join(job['out'], 'metrics.json'), 'w'))


if __name__ == '__main__':
    main()
