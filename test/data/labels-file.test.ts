// The labels file reads as numpy.loadtxt + int() does, on the forms such files take.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLabels } from '../../src/data/labels-file.js';
import { runPython } from '../helpers/python.js';

const LOADTXT =
  'import sys, io, json, numpy as np; print(json.dumps([int(v) for v in np.atleast_1d(np.loadtxt(io.StringIO(sys.stdin.read())))]))';

test('float, integer, signed, exponent, fractional and commented lines match numpy.loadtxt + int()', () => {
  const text = [
    '# written by numpy.savetxt',
    '6.000000000000000000e+00',
    '  7  ',
    '8.9',
    '-0.5',
    '+3',
    '.5',
    '1E1',
    '2.  # trailing comment',
    '\t4\r',
    '',
    '',
  ].join('\n');
  const expected = JSON.parse(runPython(['-c', LOADTXT], text)) as number[];
  assert.deepEqual(parseLabels(text, 'wm_lbl').map((l) => l.value), expected);
  assert.deepEqual(parseLabels(text, 'wm_lbl').map((l) => l.line), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('what loadtxt or int() refuses is refused, naming file and line', () => {
  assert.throws(() => parseLabels('1\nnan\n', 'f.txt'), /^Error: f\.txt:2: not a number: "nan"$/);
  assert.throws(() => parseLabels('1\n2,\n', 'f.txt'), /f\.txt:2: not a number/);
  assert.throws(() => parseLabels('1 2\n', 'f.txt'), /f\.txt:1: expected one label per line, found 2 values/);
});
