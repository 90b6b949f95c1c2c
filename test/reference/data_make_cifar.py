"""Writes small fake CIFAR datasets in torchvision's python format and in the binary release
format, and prints what torchvision reads from them.

The real python-format files were written by Python 2's cPickle at protocol 2: keys and the array
bytes are Python 2 `str` (BINSTRING opcodes), which torchvision reads with encoding='latin1'. The
fake CIFAR-10 is written the same way (a pickler that saves bytes as Python 2 str); the fake
CIFAR-100 is written by Python 3's own protocol-2 pickler with str keys, the other dialect.

usage: data_make_cifar.py ROOT cifar10|cifar100 python|binary SEED
Prints JSON {"train": {"images": b64 N x 3 x 32 x 32, "labels": [...]}, "test": {...}}: for the
python format as torchvision.datasets.CIFAR10/100 loads it (its md5 check bypassed, as the files
are fakes); for the binary format the arrays written.
"""
import base64
import json
import os
import pickle
import struct
import sys

import numpy as np

root, name, form, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = np.random.RandomState(seed)


class Py2Pickler(pickle._Pickler):
    """Protocol 2 with bytes saved as Python 2 str, as cPickle wrote the real CIFAR files."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


classes = 10 if name == "cifar10" else 100
if name == "cifar10":
    folder = "cifar-10-batches-py" if form == "python" else "cifar-10-batches-bin"
    files = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    sizes = {"train": [7, 6, 5, 4, 3], "test": [9]}
else:
    folder = "cifar-100-python" if form == "python" else "cifar-100-binary"
    files = {"train": ["train"], "test": ["test"]}
    sizes = {"train": [25], "test": [11]}
os.makedirs(os.path.join(root, folder), exist_ok=True)

written = {}
for split in ("train", "test"):
    images, labels = [], []
    for file, n in zip(files[split], sizes[split]):
        data = rng.randint(0, 256, size=(n, 3072)).astype(np.uint8)
        fine = rng.randint(0, classes, size=n)
        if form == "python":
            with open(os.path.join(root, folder, file), "wb") as f:
                if name == "cifar10":
                    entry = {b"batch_label": b"fake " + file.encode(), b"data": data, b"labels": [int(v) for v in fine],
                             b"filenames": [b"x.png"] * n}
                    Py2Pickler(f, protocol=2).dump(entry)
                else:
                    entry = {"data": data, "fine_labels": [int(v) for v in fine], "coarse_labels": [int(v) // 5 for v in fine]}
                    pickle.dump(entry, f, protocol=2)
        else:
            label_bytes = [fine] if name == "cifar10" else [fine // 5, fine]
            records = np.concatenate([np.stack(label_bytes, 1).astype(np.uint8), data], 1)
            with open(os.path.join(root, folder, file + ".bin"), "wb") as f:
                f.write(records.tobytes())
        images.append(data)
        labels += [int(v) for v in fine]
    written[split] = (np.concatenate(images), labels)

result = {}
for split in ("train", "test"):
    if form == "python":
        import torchvision  # only here: it takes a second to import

        cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        cls._check_integrity = lambda self: True
        cls._load_meta = lambda self: None
        ds = cls(root, train=split == "train", download=False)
        images, labels = ds.data.transpose(0, 3, 1, 2), list(ds.targets)
    else:
        images, labels = written[split]
    result[split] = {"images": base64.b64encode(np.ascontiguousarray(images).tobytes()).decode(), "labels": labels}
json.dump(result, sys.stdout)
