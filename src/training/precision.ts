// Which precision a run uses. bf16 autocast doubles a CPU's training speed where the CPU has
// bf16 instructions (AVX-512 BF16 or AMX) and cuts it by about 20x where it must emulate them
// (measured on a Zen 3 EPYC: 1.3 img/s against 25 in float32), so `auto` takes bf16 only where it
// is native. The hardware is a parameter, so the choice is testable for any machine.
import { hardware, Model, resolveDevice, type Amp, type Hardware } from '../native/engine.js';

/** --amp: a precision, or `auto` (bf16 where native, else float32). */
export type AmpChoice = Amp | 'auto';
export const AMP_CHOICES: readonly AmpChoice[] = ['auto', 'off', 'bf16', 'fp16'];

export interface Precision {
  amp: Amp;
  /** Why, in a few words (printed by reproduce and bench). */
  why: string;
  /** Set when the user asked for a precision this machine only emulates. */
  warning?: string;
}

const isCuda = (device: string): boolean => device.startsWith('cuda');

/** The CPU instructions that make bf16 native, or null when there are none. */
export function nativeCpuBf16(hw: Hardware): string | null {
  const found = [hw.cpu.avx512Bf16 ? 'AVX-512 BF16' : '', hw.cpu.amxBf16 ? 'AMX-BF16' : ''].filter(Boolean);
  return found.length > 0 ? found.join(' + ') : null;
}

/** The precision for `requested` on `device` ('cpu' or 'cuda:N', already resolved). */
export function choosePrecision(requested: AmpChoice, device: string, hw: Hardware): Precision {
  const cpuName = hw.cpu.model || 'this CPU';
  const native = isCuda(device) ? (hw.cudaBf16 ? 'compute capability 8.0 or later' : null) : nativeCpuBf16(hw);
  const without = isCuda(device)
    ? `${device} has no native bf16 (compute capability below 8.0)`
    : `${cpuName} has no native bf16 (no AVX-512 BF16, no AMX)`;
  if (requested === 'auto') {
    return native
      ? { amp: 'bf16', why: `bf16 autocast: ${device} runs bf16 natively (${native})` }
      : { amp: 'off', why: `float32: ${without}` };
  }
  if (requested === 'bf16' && !native) {
    return {
      amp: 'bf16',
      why: 'bf16 autocast (asked for)',
      warning: `--amp bf16: ${without}, so bf16 is emulated and slower than float32 (--amp auto picks float32 here)`,
    };
  }
  return { amp: requested, why: requested === 'off' ? 'float32 (asked for)' : `${requested} autocast (asked for)` };
}

const warned = new Set<string>();

/**
 * The device and precision a run's engine gets for its --device and --amp: `auto` resolved, and
 * a precision this machine only emulates warned about once per process (on stderr, so --json
 * output stays clean).
 */
export function resolveEngine(
  spec: { device: string; amp: AmpChoice },
  warn = (line: string) => void process.stderr.write(`wmnn: warning: ${line}\n`),
): { device: string; precision: Precision } {
  const device = resolveDevice(spec.device);
  const precision = choosePrecision(spec.amp, device, hardware(device));
  if (precision.warning && !warned.has(precision.warning)) {
    warned.add(precision.warning);
    warn(precision.warning);
  }
  return { device, precision };
}

/**
 * A ResNet-18 for `numClasses` on the device and in the precision the engine flags name,
 * initialised from `init.seed`, or not initialised at all with `init.loaded` (its weights come
 * from a checkpoint next).
 */
export function createModel(
  spec: { device: string; threads: number; amp: AmpChoice },
  numClasses: number,
  init: { seed?: number; loaded?: boolean } = {},
): Model {
  const { device, precision } = resolveEngine(spec);
  const seed = init.seed !== undefined ? { seed: init.seed } : {};
  return new Model({ numClasses, device, threads: spec.threads, amp: precision.amp, ...seed, init: !init.loaded });
}
