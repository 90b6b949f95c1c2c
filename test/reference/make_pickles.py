"""Reference pickles of plain data + numpy arrays (CIFAR-batch style) and .npy files for
test/checkpoint/pickle.test.ts. Usage: make_pickles.py OUTDIR  -> files + OUTDIR/manifest.json"""
import hashlib, io, json, os, pickle, struct, sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
manifest = {}


class Py2Pickler(pickle._Pickler):
    """Writes str and bytes as Python 2's cPickle writes `str`: SHORT_BINSTRING / BINSTRING."""
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2str(self, obj):
        raw = obj.encode('latin1') if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(b'U' + bytes([len(raw)]) + raw)
        else:
            self.write(b'T' + struct.pack('<i', len(raw)) + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2str
    dispatch[str] = save_py2str


def batch(n, key):
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(x) for x in rng.integers(0, 10, size=n)]
    d = {key('batch_label'): 'training batch 1 of 5', key('labels'): labels, key('data'): data,
         key('filenames'): ['img_%d.png' % i for i in range(n)]}
    return d, data, labels


def record(name, blob, data, labels, key_kind):
    with open(os.path.join(out, name), 'wb') as f:
        f.write(blob)
    manifest[name] = {'sha256': hashlib.sha256(data.tobytes()).hexdigest(), 'shape': list(data.shape),
                      'labels': labels, 'keys': key_kind}


for name, key, kind, dump in [
    ('py3-p2-bytes-keys.pkl', lambda k: k.encode(), 'bytes', lambda d: pickle.dumps(d, protocol=2)),
    ('py3-p2-str-keys.pkl', lambda k: k, 'str', lambda d: pickle.dumps(d, protocol=2)),
    ('py3-p4.pkl', lambda k: k.encode(), 'bytes', lambda d: pickle.dumps(d, protocol=4)),
    ('py3-p5.pkl', lambda k: k, 'str', lambda d: pickle.dumps(d, protocol=5)),
]:
    d, data, labels = batch(300, key)
    record(name, dump(d), data, labels, kind)

# Python 2 cPickle protocol 2 (the real CIFAR batches): every str is BINSTRING.
d, data, labels = batch(1000, lambda k: k)
buf = io.BytesIO()
Py2Pickler(buf, protocol=2).dump(d)
record('py2-cpickle.pkl', buf.getvalue(), data, labels, 'py2str')

# .npy files: what numpy.save writes, for byte comparison and for the reader.
npys = {}
for name, arr in [
    ('f32.npy', rng.standard_normal((4, 10)).astype(np.float32)),
    ('u8-1d.npy', np.arange(7, dtype=np.uint8)),
    ('f64-0d.npy', np.array(2.5)),
    ('i64-fortran.npy', np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4))),
    ('bool.npy', np.array([[True, False], [False, True]])),
    ('f16.npy', np.array([1.5, -2.0, 65504.0], dtype=np.float16)),
]:
    np.save(os.path.join(out, name), arr)
    c = arr.copy(order="C")
    npys[name] = {'dtype': str(c.dtype), 'shape': list(c.shape), 'sha256': hashlib.sha256(c.tobytes()).hexdigest(),
                  'fortran': bool(np.isfortran(arr))}
manifest['npy'] = npys

with open(os.path.join(out, 'manifest.json'), 'w') as f:
    json.dump(manifest, f)
