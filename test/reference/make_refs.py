"""Runs several reference generators in one Python process, so that torch is imported once.

Usage: make_refs.py JSON, where JSON may hold
  "checkpoints": [OUTDIR, [NAME, ...]]             -> make_checkpoints.main
  "hostile":     [OUTDIR, SIDE_EFFECT, CONTROL]    -> make_hostile.main
Prints a JSON object with each generator's result.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_checkpoints  # noqa: E402
import make_hostile  # noqa: E402

request = json.loads(sys.argv[1])
result = {}
if 'checkpoints' in request:
    make_checkpoints.main(*request['checkpoints'])
if 'hostile' in request:
    result['hostile'] = make_hostile.main(*request['hostile'])
print(json.dumps(result))
