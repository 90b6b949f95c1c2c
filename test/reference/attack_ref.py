"""Reference computations for the attack tests, one JSON request per line on stdin, one JSON answer
per line on stdout (arrays travel as base64 of their raw little-endian bytes).

  {"job": "quantize", "x": F32, "bits": B}
      MinMaxObserver(0, 2^B-1, per_tensor_affine) + fake_quantize_per_tensor_affine
      -> {"y": F32, "scale": s, "zero_point": z}
  {"job": "jpeg", "rgb": U8 (N x 32 x 32 x 3), "n": N, "quality": Q}
      PIL: Image.save(buf, 'JPEG', quality=Q), then Image.open(buf).convert('RGB') -> {"rgb": U8}
  {"job": "median", "rgb": U8 (N x 32 x 32 x 3), "n": N, "size": K}
      PIL: ImageFilter.MedianFilter(K) -> {"rgb": U8}
  {"job": "soft_loss", "student": F32 (N x C), "teacher": F32 (N x C), "n": N, "c": C, "t": T}
      T^2 * KL(softmax(teacher / T) || softmax(student / T)), batch mean, and its gradient
      with respect to the student's logits -> {"loss": l, "grad": F32}
"""
import base64
import io
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from torch.ao.quantization.observer import MinMaxObserver


def arr(s, dtype):
    return np.frombuffer(base64.b64decode(s), dtype=dtype).copy()


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def quantize(job):
    x = torch.from_numpy(arr(job['x'], np.float32))
    qmax = 2 ** job['bits'] - 1
    obs = MinMaxObserver(quant_min=0, quant_max=qmax, qscheme=torch.per_tensor_affine, dtype=torch.quint8)
    obs(x)
    scale, zp = obs.calculate_qparams()
    y = torch.fake_quantize_per_tensor_affine(x, float(scale), int(zp), 0, qmax)
    return {'y': b64(y.numpy()), 'scale': float(scale), 'zero_point': int(zp)}


def images(job):
    return arr(job['rgb'], np.uint8).reshape(job['n'], 32, 32, 3)


def jpeg(job):
    out = []
    for im in images(job):
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, 'JPEG', quality=job['quality'])
        buf.seek(0)
        out.append(np.asarray(Image.open(buf).convert('RGB')))
    return {'rgb': b64(np.stack(out))}


def median(job):
    out = [np.asarray(Image.fromarray(im).filter(ImageFilter.MedianFilter(job['size']))) for im in images(job)]
    return {'rgb': b64(np.stack(out))}


def soft_loss(job):
    shape = (job['n'], job['c'])
    s = torch.from_numpy(arr(job['student'], np.float32).reshape(shape)).requires_grad_(True)
    t = torch.from_numpy(arr(job['teacher'], np.float32).reshape(shape))
    temp = job['t']
    loss = F.kl_div(F.log_softmax(s / temp, 1), F.softmax(t / temp, 1), reduction='batchmean') * temp * temp
    loss.backward()
    return {'loss': float(loss), 'grad': b64(s.grad.numpy())}


JOBS = {'quantize': quantize, 'jpeg': jpeg, 'median': median, 'soft_loss': soft_loss}


def main():
    torch.set_num_threads(1)
    for line in sys.stdin:
        job = json.loads(line)
        print(json.dumps(JOBS[job['job']](job)), flush=True)


if __name__ == '__main__':
    main()
