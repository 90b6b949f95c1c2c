// --amp auto: bf16 only where the hardware runs it natively. The choice is a function of the
// hardware, so it is tested for machines this one is not; the detection itself is checked
// against what Linux reports for this CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hardware, type Hardware } from '../../src/native/engine.js';
import { choosePrecision } from '../../src/training/precision.js';

const machine = (cpu: Partial<Hardware['cpu']>, cudaBf16 = false): Hardware => ({
  cpu: { model: 'Test CPU', avx2: true, avx512f: false, avx512Bf16: false, amxBf16: false, ...cpu },
  cudaBf16,
});
const ZEN3 = machine({ model: 'AMD EPYC 7B13 64-Core Processor' });
const SAPPHIRE_RAPIDS = machine({ avx512f: true, avx512Bf16: true, amxBf16: true });

test('auto is float32 on a CPU without bf16 instructions, bf16 on one with them', () => {
  const zen3 = choosePrecision('auto', 'cpu', ZEN3);
  assert.equal(zen3.amp, 'off');
  assert.match(zen3.why, /AMD EPYC 7B13.*no native bf16/);
  assert.equal(zen3.warning, undefined);
  assert.equal(choosePrecision('auto', 'cpu', SAPPHIRE_RAPIDS).amp, 'bf16');
  assert.equal(choosePrecision('auto', 'cpu', machine({ avx512f: true, avx512Bf16: true })).amp, 'bf16');
  assert.equal(choosePrecision('auto', 'cpu', machine({ amxBf16: true })).amp, 'bf16');
});

test('auto on CUDA follows the device (compute capability 8.0), not the CPU', () => {
  assert.equal(choosePrecision('auto', 'cuda:0', machine({}, true)).amp, 'bf16');
  assert.equal(choosePrecision('auto', 'cuda:0', { ...SAPPHIRE_RAPIDS, cudaBf16: false }).amp, 'off');
});

test('an explicit --amp is kept; bf16 without native support warns with the reason', () => {
  const asked = choosePrecision('bf16', 'cpu', ZEN3);
  assert.equal(asked.amp, 'bf16');
  assert.match(asked.warning ?? '', /--amp bf16: AMD EPYC 7B13.* no native bf16 .*emulated/);
  assert.equal(choosePrecision('bf16', 'cpu', SAPPHIRE_RAPIDS).warning, undefined);
  assert.equal(choosePrecision('off', 'cpu', SAPPHIRE_RAPIDS).amp, 'off');
});

test('the detected CPU features agree with /proc/cpuinfo', { skip: process.arch !== 'x64' && 'x86 only' }, () => {
  const hw = hardware('cpu');
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const flags = new Set((/^flags\s*:(.*)$/m.exec(info)?.[1] ?? '').trim().split(/\s+/));
  assert.equal(hw.cpu.avx2, flags.has('avx2'));
  assert.equal(hw.cpu.avx512f, flags.has('avx512f'));
  assert.equal(hw.cpu.avx512Bf16, flags.has('avx512_bf16'));
  assert.equal(hw.cpu.amxBf16, flags.has('amx_bf16'));
  const model = /^model name\s*:(.*)$/m.exec(info)?.[1]?.trim().replace(/\s+/g, ' ');
  if (model) assert.equal(hw.cpu.model.replace(/\s+/g, ' '), model);
  assert.equal(hw.cudaBf16, false, 'no CUDA device is asked about');
});
