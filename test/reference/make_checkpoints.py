"""Reference checkpoints written by the real PyTorch, for test/checkpoint/*.test.ts.

Usage: make_checkpoints.py OUTDIR [NAME ...]   (or make_checkpoints.main(OUTDIR, NAMES) from Python)
Writes the named files (all when none is given) into OUTDIR and OUTDIR/manifest.json: for every
file, its container, folder name, each tensor's name/shape/dtype/sha256 of its raw little-endian
bytes/requires_grad in state_dict order, the modules' training flags, acc and epoch.
"""
import copyreg
import hashlib
import io
import json
import os
import pickle
import sys

import torch
import torch.nn as nn
import torch.nn.backends.thnn
import torch.serialization

from models.resnet import ResNet18

torch.set_num_threads(1)
out = ''
wanted = set()
manifest = {}


def fresh(num_classes=10, seed=0):
    torch.manual_seed(seed)
    return ResNet18(num_classes)


def trained(num_classes=10, seed=0, steps=3):
    """BN running stats moved and num_batches_tracked = steps; saved after eval(), as the original does."""
    net = fresh(num_classes, seed)
    net.train()
    with torch.no_grad():
        for _ in range(steps):
            net(torch.randn(2, 3, 32, 32))
    net.eval()
    return net


def tensor_entries(state, params):
    rows = []
    for name, t in state.items():
        t = t.detach().contiguous()
        rows.append({'name': name, 'shape': list(t.shape), 'dtype': str(t.dtype).replace('torch.', ''),
                     'sha256': hashlib.sha256(t.numpy().tobytes()).hexdigest(),
                     'requires_grad': params[name].requires_grad if name in params else None})
    return rows


def describe(name, container, archive, net, acc, epoch, *, state=None, prefix=''):
    if net is not None:
        state = net.state_dict()
        params = dict(net.named_parameters())
        training = {n: m.training for n, m in net.named_modules()}
    else:
        params = {}
        training = {}
    if isinstance(acc, torch.Tensor):
        acc_desc = {'value': acc.item(), 'dtype': str(acc.dtype).replace('torch.', '')}
    else:
        acc_desc = None if acc is None else {'value': acc, 'dtype': None}
    manifest[name] = {'container': container, 'archive': archive, 'tensors': tensor_entries(state, params),
                      'training': training, 'acc': acc_desc, 'epoch': epoch, 'prefix': prefix}


def save(name, obj, legacy=False, pickle_module=pickle):
    torch.save(obj, os.path.join(out, name), _use_new_zipfile_serialization=not legacy, pickle_module=pickle_module)


class _Reduce:
    """Pickles as `fn(*args)`."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


class _Torch041Pickler(pickle.Pickler):
    """Reduces tensors, parameters and modules as PyTorch 0.4.1 did."""

    def reducer_override(self, obj):
        if isinstance(obj, nn.Parameter):
            t = obj.data
            inner = _Reduce(torch._utils._rebuild_tensor_v2, t.storage(), t.storage_offset(), tuple(t.size()),
                            t.stride(), obj.requires_grad, None)
            return nn.Parameter, (inner, obj.requires_grad)
        if isinstance(obj, torch.Tensor):
            return torch._utils._rebuild_tensor_v2, (obj.storage(), obj.storage_offset(), tuple(obj.size()),
                                                     obj.stride(), False, None)
        if isinstance(obj, nn.Module):
            d = obj.__dict__
            state = {'_backend': _Reduce(torch.nn.backends.thnn._get_thnn_function_backend)}
            for k in ('_parameters', '_buffers', '_backward_hooks', '_forward_hooks', '_forward_pre_hooks', '_modules', 'training'):
                state[k] = d[k]
            for k, v in d.items():
                if k not in state and not k.startswith('_') and k != 'padding_mode':
                    state[k] = v
            return copyreg.__newobj__, (type(obj),), state
        return NotImplemented


class Torch041Pickle:
    """A pickle_module for torch.save whose Pickler is the 0.4.1-style one."""
    Pickler = _Torch041Pickler
    dump = staticmethod(pickle.dump)


def acc_tensor(v):
    # As the original computes it under torch >= 1.5: 100. * correct / total -> 0-dim float32.
    return 100. * torch.tensor(int(v * 100)) / 10000


def case(name):
    return not wanted or name in wanted


def build():
    if case('untrained-zip.t7'):
        net, acc = fresh(), acc_tensor(12.34)
        save('untrained-zip.t7', {'net': net, 'acc': acc, 'epoch': 0})
        describe('untrained-zip.t7', 'zip', 'untrained-zip', net, acc, 0)

    if case('untrained-legacy.t7'):
        net, acc = fresh(), acc_tensor(12.34)
        save('untrained-legacy.t7', {'net': net, 'acc': acc, 'epoch': 0}, legacy=True)
        describe('untrained-legacy.t7', 'legacy', None, net, acc, 0)

    if case('trained-zip.t7'):
        net, acc = trained(seed=1), acc_tensor(87.65)
        save('trained-zip.t7', {'net': net, 'acc': acc, 'epoch': 2})
        describe('trained-zip.t7', 'zip', 'trained-zip', net, acc, 2)

    if case('trained-legacy.t7'):
        net, acc = trained(seed=1), acc_tensor(87.65)
        save('trained-legacy.t7', {'net': net, 'acc': acc, 'epoch': 2}, legacy=True)
        describe('trained-legacy.t7', 'legacy', None, net, acc, 2)

    if case('ftll-zip.t7'):
        # fine-tune.py without --tunealllayers: everything but linear frozen.
        net, acc = trained(seed=2), acc_tensor(55.5)
        for n, p in net.named_parameters():
            p.requires_grad = n.startswith('linear.')
        save('ftll-zip.t7', {'net': net, 'acc': acc, 'epoch': 7})
        describe('ftll-zip.t7', 'zip', 'ftll-zip', net, acc, 7)

    if case('cuda-tagged-zip.t7') or case('cuda-tagged-legacy.t7'):
        # No GPU here: tag every storage but acc's as cuda:0, as a GPU-trained file is (acc comes from .cpu()).
        net, acc = trained(seed=3), acc_tensor(91.0)
        acc_ptr = acc.storage().data_ptr()
        original_tag = torch.serialization.location_tag
        torch.serialization.location_tag = lambda s: 'cpu' if s.data_ptr() == acc_ptr else 'cuda:0'
        try:
            if case('cuda-tagged-zip.t7'):
                save('cuda-tagged-zip.t7', {'net': net, 'acc': acc, 'epoch': 4})
                describe('cuda-tagged-zip.t7', 'zip', 'cuda-tagged-zip', net, acc, 4)
            if case('cuda-tagged-legacy.t7'):
                save('cuda-tagged-legacy.t7', {'net': net, 'acc': acc, 'epoch': 4}, legacy=True)
                describe('cuda-tagged-legacy.t7', 'legacy', None, net, acc, 4)
        finally:
            torch.serialization.location_tag = original_tag

    if case('dataparallel-zip.t7'):
        net, acc = trained(seed=4), acc_tensor(70.0)
        save('dataparallel-zip.t7', {'net': nn.DataParallel(net), 'acc': acc, 'epoch': 1})
        describe('dataparallel-zip.t7', 'zip', 'dataparallel-zip', net, acc, 1)

    if case('statedict-zip.t7'):
        net, acc = trained(seed=5), acc_tensor(66.6)
        save('statedict-zip.t7', {'net': net.state_dict(), 'acc': acc, 'epoch': 3})
        describe('statedict-zip.t7', 'zip', 'statedict-zip', None, acc, 3, state=net.state_dict())

    if case('statedict-key-legacy.t7'):
        net = trained(seed=6)
        save('statedict-key-legacy.t7', {'state_dict': net.state_dict(), 'acc': 42.5, 'epoch': 9}, legacy=True)
        describe('statedict-key-legacy.t7', 'legacy', None, None, 42.5, 9, state=net.state_dict())

    if case('statedict-dp-bare.t7'):
        # A bare DataParallel state_dict ('module.' keys), saved through a buffer: folder 'archive/'.
        net = trained(seed=7)
        buf = io.BytesIO()
        torch.save(nn.DataParallel(net).state_dict(), buf)
        with open(os.path.join(out, 'statedict-dp-bare.t7'), 'wb') as f:
            f.write(buf.getvalue())
        describe('statedict-dp-bare.t7', 'zip', 'archive', None, None, None, state=net.state_dict(), prefix='module.')

    if case('c100-zip.t7'):
        net, acc = trained(num_classes=100, seed=8), acc_tensor(33.3)
        save('c100-zip.t7', {'net': net, 'acc': acc, 'epoch': 11})
        describe('c100-zip.t7', 'zip', 'c100-zip', net, acc, 11)

    if case('accint-legacy.t7'):
        # 0.4.1-style acc: a 0-dim int64 tensor (integer division truncated).
        net, acc = fresh(seed=9), torch.tensor(87)
        save('accint-legacy.t7', {'net': net, 'acc': acc, 'epoch': 59}, legacy=True)
        describe('accint-legacy.t7', 'legacy', None, net, acc, 59)

    def shrunk(net):
        """The same module graph with every tensor cut to a few elements: the same pickle (classes,
        hyper-parameters, flags) in a file of a few tens of kB, for fuzzing and model checks."""
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for m in net.modules():
                for registry in (m._parameters, m._buffers):
                    for k, v in list(registry.items()):
                        if v is None:
                            continue
                        small = torch.randn(2, generator=g) if v.is_floating_point() else torch.tensor(3)
                        registry[k] = nn.Parameter(small, requires_grad=v.requires_grad) if isinstance(v, nn.Parameter) else small
        return net


    for name, legacy in (('tiny-zip.t7', False), ('tiny-legacy.t7', True)):
        if case(name):
            net, acc = shrunk(trained(seed=10)), acc_tensor(10.0)
            save(name, {'net': net, 'acc': acc, 'epoch': 1}, legacy=legacy)
            describe(name, 'legacy' if legacy else 'zip', None if legacy else name[:-3], net, acc, 1)


    if case('tiny-deflated.t7'):
        # torch also loads zips whose records are deflated (written here by Python's zipfile).
        import zipfile
        net, acc = shrunk(trained(seed=12)), acc_tensor(20.0)
        buf = io.BytesIO()
        torch.save({'net': net, 'acc': acc, 'epoch': 5}, buf)
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
                zipfile.ZipFile(os.path.join(out, 'tiny-deflated.t7'), 'w', zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info.filename))
        describe('tiny-deflated.t7', 'zip', 'archive', net, acc, 5)


    if case('torch041-emulated-legacy.t7'):
        # What PyTorch 0.4.1 wrote in 2018 (docs/checkpoint-format.md §8.5): Parameter(tensor, requires_grad), tensor hooks
        # None, the 0.4 module dict (with _backend, without the later hook dicts), Conv2d without
        # padding_mode, acc an int64 tensor; legacy container. Made with torch 1.13's legacy
        # writer and a pickler that reduces objects the old way; 1.13 must still load it.
        net, acc = trained(seed=13), torch.tensor(87)
        for n, p in net.named_parameters():
            p.requires_grad = not n.startswith('layer1.')
        save('torch041-emulated-legacy.t7', {'net': net, 'acc': acc, 'epoch': 59}, legacy=True, pickle_module=Torch041Pickle)
        loaded = torch.load(os.path.join(out, 'torch041-emulated-legacy.t7'))
        assert all(torch.equal(a, b) for a, b in zip(loaded['net'].state_dict().values(), net.state_dict().values()))
        describe('torch041-emulated-legacy.t7', 'legacy', None, net, acc, 59)

    def altered(change):
        net = shrunk(fresh(seed=11))
        change(net)
        return {'net': net, 'acc': acc_tensor(1.0), 'epoch': 0}


    # Models that differ from the original's ResNet-18 in ways a forward pass would silently follow.
    def drop_shortcut(net):
        del net.layer3[0].shortcut


    def basic_block(net):
        import models.resnet as mr

        class BasicBlock(mr.PreActBlock):  # pickled under the name models.resnet.BasicBlock
            pass
        BasicBlock.__module__, BasicBlock.__qualname__ = 'models.resnet', 'BasicBlock'
        mr.BasicBlock = BasicBlock
        net.layer1[1].__class__ = BasicBlock


    for name, change in (('bad-stride.t7', lambda n: setattr(n.layer2[0].conv1, 'stride', (1, 1))),
                         ('bad-eps.t7', lambda n: setattr(n.bn1, 'eps', 1e-3)),
                         ('no-shortcut.t7', drop_shortcut),
                         ('basic-block.t7', basic_block)):
        if case(name):
            save(name, altered(change))


def main(outdir, names):
    """Write the named reference files (all when `names` is empty) and OUTDIR/manifest.json."""
    global out, wanted
    out, wanted = outdir, set(names)
    os.makedirs(out, exist_ok=True)
    manifest.clear()
    build()
    with open(os.path.join(out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2:])
