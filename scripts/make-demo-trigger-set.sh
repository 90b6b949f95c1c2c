#!/usr/bin/env bash
# Regenerates the demo trigger set in data/trigger_set/ (100 abstract images, labels from 10
# classes, commitments and openings) with `wmnn keygen` and a fixed PUBLIC seed, so the same
# files come out every time (same Node.js major version: the PNGs go through its zlib).
# It is a demo: anyone can regenerate it. Owners make their own with `wmnn keygen --out DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=2018
node --import tsx src/cli/index.ts keygen --out data/trigger_set --size 100 --classes 10 --seed "$SEED" --force
