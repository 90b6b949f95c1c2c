"""Hostile checkpoints for test/checkpoint/hostile.test.ts.

Usage: make_hostile.py OUTDIR SIDE_EFFECT_PATH CONTROL_SIDE_EFFECT_PATH   (or main(...) from Python)
Every code-running file tries to create SIDE_EFFECT_PATH when loaded by PyTorch. As a control,
this script itself torch.loads one of them (aimed at CONTROL_SIDE_EFFECT_PATH instead) and
reports {"control_ran": true/false}, so the test knows the payloads really run code.
"""
import json
import os
import pickle
import struct
import subprocess
import sys

import torch
import torch.nn as nn

out = ''


class Evil:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def path(name):
    return os.path.join(out, name)


def checkpoint(payload):
    return {'net': payload, 'acc': torch.tensor(1.0), 'epoch': 0}


def raw_zip(name, pkl, records=()):
    """A torch zip (written by torch's own writer) around a hand-made data.pkl."""
    w = torch._C.PyTorchFileWriter(path(name))
    w.write_record('data.pkl', pkl, len(pkl))
    for rname, data in records:
        w.write_record(rname, data, len(data))
    w.write_end_of_file()


def binunicode(s):
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b


def long1(n):
    b = n.to_bytes((n.bit_length() + 8) // 8, 'little', signed=True)
    return b'\x8a' + bytes([len(b)]) + b


def tensor_pickle(numel, size, stride, storage_id_extra=b''):
    """{'acc': _rebuild_tensor_v2(storage '0' of `numel` floats, 0, size, stride, False, OrderedDict())}"""
    ints = lambda xs: b'(' + b''.join(b'J' + struct.pack('<i', x) for x in xs) + b't'
    return (b'\x80\x02}(' + binunicode('acc') + b'ctorch._utils\n_rebuild_tensor_v2\n('
            + b'(' + binunicode('storage') + b'ctorch\nFloatStorage\n' + binunicode('0') + binunicode('cpu')
            + long1(numel) + storage_id_extra + b'tQ' + b'K\x00' + ints(size) + ints(stride)
            + b'\x89ccollections\nOrderedDict\n)Rt' + b'Ru.')


def main(outdir, side, control_side):
    global out
    out = outdir
    os.makedirs(out, exist_ok=True)
    # Code execution through every route a pickle offers.
    torch.save(checkpoint(Evil(os.system, 'touch ' + side)), path('os-system.t7'))
    torch.save(checkpoint(Evil(eval, "open(%r, 'w').close()" % side)), path('eval.t7'))
    torch.save(checkpoint(Evil(exec, "open(%r, 'w').close()" % side)), path('exec.t7'))
    torch.save(checkpoint(Evil(subprocess.Popen, ['touch', side])), path('subprocess.t7'))
    torch.save(checkpoint(Evil(os.system, 'touch ' + side)), path('stack-global.t7'), pickle_protocol=4)
    torch.save(checkpoint(Evil(os.system, 'touch ' + side)), path('legacy-forbidden.t7'), _use_new_zipfile_serialization=False)
    # Inside a real model: the payload sits where a Conv2d should be.
    net = nn.Sequential(nn.Conv2d(3, 4, 3))
    net._modules['1'] = Evil(os.system, 'touch ' + side)
    torch.save(checkpoint(net), path('in-module.t7'))

    # getattr(__import__('os'), 'system')('touch ...'): nested REDUCE, names only builtins.
    raw_zip('nested-reduce-builtins.t7', b'\x80\x02c__builtin__\ngetattr\n(c__builtin__\n__import__\n('
            + binunicode('os') + b'tR' + binunicode('system') + b'tR(' + binunicode('touch ' + side) + b'tR.')
    # Nested REDUCE through allowed globals only: OrderedDict()().
    raw_zip('nested-reduce-allowed.t7', b'\x80\x02}(' + binunicode('net') + b'ccollections\nOrderedDict\n)R)Ru.')

    # Sizes: a storage claiming 100 GB (zip, and legacy), and a 10^10-element view of one float.
    raw_zip('storage-100gb.t7', tensor_pickle(25_000_000_000, [], []), [('data/0', b'\0\0\0\0')])
    raw_zip('expanded-view.t7', tensor_pickle(1, [100000, 100000], [0, 0]), [('data/0', b'\0\0\0\0')])
    with open(path('storage-100gb-legacy.t7'), 'wb') as f:
        f.write(pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2))
        f.write(pickle.dumps(1001, protocol=2))
        f.write(pickle.dumps({'protocol_version': 1001, 'little_endian': True,
                              'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, protocol=2))
        f.write(tensor_pickle(25_000_000_000, [], [], storage_id_extra=b'N'))
        f.write(pickle.dumps(['0'], protocol=2))
        f.write(struct.pack('<q', 25_000_000_000) + b'\0\0\0\0')

    # Recursion bombs.
    raw_zip('deep-lists.t7', b'\x80\x02' + b']' * 200000 + b'a' * 199999 + b'.')
    raw_zip('mark-bomb.t7', b'\x80\x02' + b'(' * 200000 + b'.')
    raw_zip('deep-tuple-key.t7', b'\x80\x02}K\x00' + b'\x85' * 100000 + b'Ns.')
    sys.setrecursionlimit(100000)
    deep = nn.Sequential()
    for _ in range(300):
        deep = nn.Sequential(deep)
    torch.save(checkpoint(deep), path('deep-modules.t7'))

    # The control: PyTorch itself runs the payload.
    torch.save(checkpoint(Evil(os.system, 'touch ' + control_side)), path('control.t7'))
    try:
        torch.load(path('control.t7'))
    except Exception:
        pass
    os.remove(path('control.t7'))
    return {'control_ran': os.path.exists(control_side)}


if __name__ == '__main__':
    print(json.dumps(main(*sys.argv[1:4])))
