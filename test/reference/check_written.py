"""Checks files that wmnn wrote, with the real PyTorch. Reads lines from stdin, each a JSON list
of jobs, and answers each with a line holding a JSON list of results:
{"path", "errors": [...], "resaved_sha256"?}.

Job kinds:
  checkpoint   torch.load(path) with no map_location, as the original loads: 'net' must be a
               models.resnet.ResNet with a fresh ResNet18's hyper-parameters and attribute order,
               the expected tensors bit for bit, training / requires_grad flags, acc and epoch;
               its eval logits must equal a fresh model's given the same state_dict, and a
               train-mode forward/backward must run. With "resave_dir", a fresh ResNet18 given
               the same weights and flags is saved with torch.save under the same base name,
               and its sha256 reported.
  state_dict   torch.load(path, weights_only=True): the tensors bit for bit, and
               load_state_dict into a fresh model (strict).
  safetensors  parsed with json + numpy (the safetensors package is not installed).
"""
import copy
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

import models.resnet
from models.resnet import ResNet18

torch.set_num_threads(1)


def sha(t):
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()


def check_tensors(state, expect, errors):
    if list(state.keys()) != [e['name'] for e in expect]:
        errors.append('state_dict keys/order differ: %s' % list(state.keys())[:5])
        return
    for e in expect:
        t = state[e['name']]
        if list(t.shape) != e['shape'] or str(t.dtype) != 'torch.' + e['dtype'] or sha(t) != e['sha256']:
            errors.append('%s differs: %s %s' % (e['name'], tuple(t.shape), t.dtype))


def hyper(m):
    return [(k, repr(v)) for k, v in m.__dict__.items() if k not in ('_parameters', '_buffers', '_modules', 'training')]


def check_checkpoint(job, errors):
    ck = torch.load(job['path'])
    exp = job['expect']
    net = ck['net']
    if type(net) is not models.resnet.ResNet:
        errors.append('net is %s' % type(net))
        return ck
    n = exp['num_classes']
    fresh = ResNet18(n)
    mods, fresh_mods = dict(net.named_modules()), dict(fresh.named_modules())
    if list(mods) != list(fresh_mods):
        errors.append('module tree differs')
    for name, fm in fresh_mods.items():
        m = mods.get(name)
        if m is None or type(m) is not type(fm):
            errors.append('module %s is %s' % (name, type(m)))
            continue
        if list(m.__dict__.keys()) != list(fm.__dict__.keys()) or hyper(m) != hyper(fm):
            errors.append('module %s attributes differ: %s vs %s' % (name, hyper(m), hyper(fm)))
        if m.training != exp['training']:
            errors.append('module %s training=%s' % (name, m.training))
    check_tensors(net.state_dict(), exp['tensors'], errors)
    for pname, p in net.named_parameters():
        want = exp['requires_grad'].get(pname, True)
        if p.requires_grad != want:
            errors.append('%s requires_grad=%s' % (pname, p.requires_grad))
    acc = ck['acc']
    if not (isinstance(acc, torch.Tensor) and acc.dtype == torch.float32 and acc.dim() == 0
            and acc.item() == np.float32(exp['acc'])):
        errors.append('acc is %r' % (acc,))
    if type(ck['epoch']) is not int or ck['epoch'] != exp['epoch']:
        errors.append('epoch is %r' % (ck['epoch'],))
    want_keys = ['net', 'acc', 'epoch'] + (['wmnn'] if 'wmnn' in exp else [])
    if list(ck.keys()) != want_keys:
        errors.append('top-level keys %s' % list(ck.keys()))
    if 'wmnn' in exp:
        w, ew = ck['wmnn'], exp['wmnn']
        if w.get('schema') != 1:
            errors.append('wmnn schema %r' % (w.get('schema'),))
        for field in ('momentum', 'tensors'):
            got = {k: sha(v) for k, v in w.get(field, {}).items()}
            if list(got.items()) != list(ew.get(field, {}).items()):
                errors.append('wmnn.%s differs' % field)
        if w.get('state', {}) != ew.get('state', {}):
            errors.append('wmnn.state is %r' % (w.get('state'),))

    # Forward: eval logits equal a fresh model's with the same state_dict; train mode runs backward.
    torch.manual_seed(1)
    x = torch.randn(4, 3, 32, 32)
    fresh.load_state_dict(net.state_dict())
    fresh.eval()
    probe = copy.deepcopy(net).eval()
    with torch.no_grad():
        diff = (probe(x) - fresh(x)).abs().max().item()
    if diff != 0:
        errors.append('eval logits differ from a fresh model by %g' % diff)
    probe.train()
    out = probe(x)
    if any(p.requires_grad for p in probe.parameters()):
        out.sum().backward()
    if not torch.isfinite(out).all():
        errors.append('train-mode forward is not finite')
    return ck


def check_state_dict(job, errors):
    sd = torch.load(job['path'], weights_only=True)
    check_tensors(sd, job['expect']['tensors'], errors)
    ResNet18(job['expect']['num_classes']).load_state_dict(sd)


DT = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64, 'U8': np.uint8, 'F16': np.float16,
      'I32': np.int32, 'I16': np.int16, 'I8': np.int8, 'BOOL': np.bool_}


def check_safetensors(job, errors):
    with open(job['path'], 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    names = [k for k in header if k != '__metadata__']
    if names != [e['name'] for e in job['expect']['tensors']]:
        errors.append('safetensors names differ')
        return
    for e in job['expect']['tensors']:
        h = header[e['name']]
        b, end = h['data_offsets']
        arr = np.frombuffer(data[b:end], dtype=DT[h['dtype']]).reshape(h['shape'])
        if list(arr.shape) != e['shape'] or hashlib.sha256(arr.tobytes()).hexdigest() != e['sha256']:
            errors.append('%s differs' % e['name'])


def rebuilt(ck, exp):
    """The same content as torch.save sees it in the original's train.py: a freshly built model
    given the weights. (Saving the loaded object itself differs slightly: CPython's unpickler
    returns its cached one-character strings, so the pickler then shares Sequential names '0'.)"""
    net = ResNet18(exp['num_classes'])
    net.load_state_dict(ck['net'].state_dict())
    net.train(exp['training'])
    for name, p in net.named_parameters():
        p.requires_grad = exp['requires_grad'].get(name, True)
    return {'net': net, 'acc': ck['acc'], 'epoch': ck['epoch']}


def run(jobs):
    results = []
    for job in jobs:
        errors = []
        res = {'path': job['path'], 'errors': errors}
        try:
            if job['kind'] == 'checkpoint':
                ck = check_checkpoint(job, errors)
                if job.get('resave_dir'):
                    again = os.path.join(job['resave_dir'], os.path.basename(job['path']))
                    torch.save(rebuilt(ck, job['expect']), again)
                    with open(again, 'rb') as f:
                        res['resaved_sha256'] = hashlib.sha256(f.read()).hexdigest()
            elif job['kind'] == 'state_dict':
                check_state_dict(job, errors)
            elif job['kind'] == 'safetensors':
                check_safetensors(job, errors)
            else:
                errors.append('unknown job kind')
        except Exception as e:  # reported to the test, which fails with the message
            errors.append('%s: %s' % (type(e).__name__, e))
        results.append(res)
    return results


# One JSON list of jobs per input line, one JSON list of results per output line, so that a test
# file pays for importing torch once.
for line in sys.stdin:
    print(json.dumps(run(json.loads(line))), flush=True)
