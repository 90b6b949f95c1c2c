// Loads the native addons and, when that fails, says exactly which command fixes it: the addon
// missing, built for another Node ABI, or its libtorch or libjpeg gone or changed. There are two:
// the engine (build/Release/wmnn.node, libtorch) and the image codecs (build/Release/wmnn-image.node,
// libjpeg-turbo only), which loads in a millisecond while libtorch takes most of a second, and so
// also starts the engine's load on a thread of its own.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PHASES, timed } from '../profile.js';
import type { Tensor } from '../tensor.js';

export interface BuildInfo {
  torchVersion: string;
  /** How the build found libtorch: `LIBTORCH=...`, `Torch_DIR=...`, `python torch (...)` or `system`. */
  torchSource: string;
  torchDir: string;
  cudaCompiled: boolean;
  cudaAvailable: boolean;
  cudaDevices: number;
  parallel: string;
  /** The data-parallel backends compiled in: `gloo`, `gloo,nccl`, or empty. */
  distributed: string;
  napiVersion: number;
}

/** Where and how a rank joins its job (native/distributed.h, RendezvousOptions). */
export interface RendezvousOptions {
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  timeoutMs: number;
  /** What every rank must agree on (the command line); a difference is refused at join. */
  fingerprint: string;
}

/** The addon's ProcessGroup class: this process's membership of a job. */
export interface RawProcessGroup {
  describe(): { rank: number; worldSize: number };
  /** Rank 0's value, on every rank. */
  share(value: number): number;
}

export interface EngineOptions {
  numClasses: number;
  device: string;
  seed: number;
  threads: number;
  channelsLast: boolean;
  amp: Amp;
  init: boolean;
}

/** What the machine runs natively: CPUID features the OS has enabled, and the CUDA device's bf16. */
export interface Hardware {
  cpu: { model: string; avx2: boolean; avx512f: boolean; avx512Bf16: boolean; amxBf16: boolean };
  /** Compute capability 8.0 or later (with cuDNN 8), for the CUDA device asked about. */
  cudaBf16: boolean;
}

/** Mixed precision: bf16 autocast (CPU and CUDA), fp16 autocast with loss scaling (CUDA). */
export type Amp = 'off' | 'bf16' | 'fp16';

export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int64';
  kind: 'parameter' | 'buffer';
  requiresGrad: boolean;
}

/** One phase's running totals, accumulated on the device and read at once (the original's train_loss, correct, total). */
export interface Metrics {
  /** Sum over steps of each step's mean cross-entropy (the original's `train_loss`). */
  lossSum: number;
  steps: number;
  correct: number;
  total: number;
}

/** The addon's Engine class, exactly as native/addon.cc defines it. */
export interface RawEngine {
  describe(): { device: string; threads: number; numClasses: number; channelsLast: boolean; amp: Amp };
  tensors(): TensorInfo[];
  read(name: string): Tensor;
  write(name: string, value: Tensor): void;
  readMomentum(name: string): Tensor | null;
  writeMomentum(name: string, value: Tensor): void;
  clearMomentum(): void;
  setSgd(sgd: { lr: number; momentum: number; weightDecay: number }): void;
  setTrainOnlyLinear(onlyLinear: boolean): void;
  reinitLinear(seed: number): void;
  stashLinear(): void;
  swapLinear(): void;
  setLabelSmoothing(eps: number): void;
  setSoftTargets(data: number, teacherLogits: Float32Array | null, temperature: number): void;
  setMask(name: string, mask: Tensor<'float32'>): void;
  clearMasks(): void;
  channelMeans(data: number, batch: number): Promise<Tensor<'float32'>>;
  upload(images: Uint8Array, labels: Int32Array, mean: Float32Array, std: Float32Array): number;
  drop(id: number): void;
  newEpoch(id: number, shuffle: boolean, augment: boolean, seed: number): void;
  peekBatch(id: number, start: number, count: number): { images: Tensor<'float32'>; labels: Tensor<'int32'> };
  trainStep(data: number, start: number, count: number, wm: number, wmStart: number, wmCount: number): Promise<void>;
  evalStep(data: number, start: number, count: number, keepOutputs: boolean): Promise<void>;
  takeMetrics(): Metrics;
  takeOutputs(): { logits: Tensor<'float32'>; predictions: Tensor<'int32'> };
  forward(images: Float32Array, n: number, train: boolean): Promise<Tensor<'float32'>>;
  joinGroup(group: RawProcessGroup): void;
  anyRank(flag: boolean): boolean;
  takeCommunicationSeconds(): number | null;
  release(): void;
}

export interface Binding {
  Engine: new (opts: EngineOptions) => RawEngine;
  ProcessGroup: new (opts: RendezvousOptions) => RawProcessGroup;
  buildInfo(): BuildInfo;
  augment(images: Uint8Array, dx: Int32Array, dy: Int32Array, flip: Int32Array, mean: Float32Array, std: Float32Array): Tensor<'float32'>;
  hardware(cudaIndex: number): Hardware;
  resolveDevice(spec: string): string;
  /** The distillation loss T^2 * KL(softmax(teacher/T) || softmax(student/T)) (batch mean) and its gradient (tests). */
  softTargetLoss(
    student: Float32Array,
    teacher: Float32Array,
    n: number,
    c: number,
    temperature: number,
  ): { loss: number; grad: Tensor<'float32'> };
}

/** A decoded JPEG: width x height x channels bytes, channels 3 (RGB) or 1 (grey). */
export interface DecodedJpeg {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** The addon without libtorch (image codecs, engine preload), exactly as native/image/addon.cc defines it. */
export interface ImageAddon {
  decodeJpeg(bytes: Uint8Array, region?: { left: number; top: number; width: number; height: number }): Promise<DecodedJpeg>;
  decodeJpegSync(bytes: Uint8Array): DecodedJpeg;
  jpegSize(bytes: Uint8Array): { width: number; height: number };
  /** Interleaved RGB to JPEG bytes with PIL's encoder settings (quality 1..100). */
  encodeJpeg(rgb: Uint8Array, width: number, height: number, quality: number): Uint8Array;
  /** dlopen(path) on a native thread of its own, once per process. */
  preloadLibrary(path: string): void;
  /** True once that dlopen has returned, or when none was started. */
  preloadDone(): boolean;
  /** Ends the process with `code` at once: no static destructors, no exit handlers, no wait for the preload. */
  exitNow(code: number): never;
}

const ADDON = fileURLToPath(new URL('../../build/Release/wmnn.node', import.meta.url));
const IMAGE_ADDON = fileURLToPath(new URL('../../build/Release/wmnn-image.node', import.meta.url));
const FIX_BUILD = 'npm run setup';

/** Turns a dlopen failure into one sentence naming the cause and the command that fixes it. */
export function explainLoadError(message: string, path = ADDON): string {
  if (!existsSync(path)) {
    return `wmnn's native addon is not built (${path} is missing); run \`${FIX_BUILD}\` in the wmnn folder`;
  }
  if (/NODE_MODULE_VERSION|compiled against a different Node\.js version/.test(message)) {
    return `wmnn's native addon was built for another Node.js version than ${process.version}; run \`${FIX_BUILD}\` (it rebuilds the addon)`;
  }
  const missingLib = /(lib(torch|c10|jpeg)[\w.-]*\.so[\w.]*): cannot open shared object file/.exec(message);
  if (missingLib?.[2] === 'jpeg') {
    return `wmnn's native addon cannot find ${missingLib[1]}: install it (\`apt-get install libjpeg62-turbo-dev\`), then run \`${FIX_BUILD}\``;
  }
  if (missingLib) {
    return (
      `wmnn's native addon cannot find ${missingLib[1]}: the libtorch it was built against is gone; ` +
      `install it (\`apt-get install libtorch-dev\`) or point LIBTORCH/Torch_DIR at another libtorch, then run \`${FIX_BUILD}\``
    );
  }
  if (/undefined symbol/.test(message)) {
    return `wmnn's native addon does not match the libtorch now installed (${message.split('\n')[0]}); run \`${FIX_BUILD}\` to rebuild it`;
  }
  return `wmnn's native addon failed to load (${message.split('\n')[0]}); run \`${FIX_BUILD}\` to rebuild it`;
}

let cached: Binding | undefined;
let preloading: ImageAddon | undefined;

/**
 * Starts loading the engine addon on a native thread, for a command that will need it: the
 * dynamic loader's work for libtorch (about 290 shared libraries and their static initialisers,
 * most of a second on one core) then runs beside the main thread's module loading, checkpoint
 * read and image decoding. loadBinding's require() later finds the libraries loaded, or waits
 * inside dlopen for the thread to finish them. The thread is the libtorch-free addon's
 * (native/image/preload.cc), which loads in a millisecond. A failure here is ignored: loadBinding
 * meets it again and explains it.
 */
export function preloadBinding(): void {
  if (cached || preloading) return;
  try {
    preloading = loadImageAddon();
  } catch {
    return; // not built: loadBinding explains what to do
  }
  preloading.preloadLibrary(ADDON);
}

/** True while the preload is still loading the engine addon: a require() here would wait for it. */
export function bindingStillLoading(): boolean {
  return cached === undefined && preloading !== undefined && !preloading.preloadDone();
}

function requireAddon<T>(path: string): T {
  try {
    return createRequire(import.meta.url)(path) as T;
  } catch (e) {
    throw new Error(explainLoadError(e instanceof Error ? e.message : String(e), path));
  }
}

/** The engine addon (libtorch): waits for the preload's thread when it is still loading it. */
export function loadBinding(): Binding {
  cached ??= timed(PHASES.engineLoad, () => requireAddon<Binding>(ADDON));
  return cached;
}

let imageAddon: ImageAddon | undefined;
/** The addon without libtorch (the image codecs, the engine preload, exitNow): ready long before the engine is. */
export function loadImageAddon(): ImageAddon {
  imageAddon ??= requireAddon<ImageAddon>(IMAGE_ADDON);
  return imageAddon;
}

/**
 * Ends the process with `code` once a command is done. For an engine command the ordinary exit
 * would first wait for a libtorch load still in flight (a usage error found early), then run the
 * static destructors of libtorch's libraries, a tenth of a second or more for nothing; exitNow
 * skips both. Only when nothing is left to write: stdout and stderr drained (on Linux they are
 * written synchronously to files and pipes), and every file written already (commands write
 * theirs synchronously or await them). Otherwise, and for the other commands, the ordinary exit.
 */
export function endProcess(code: number): void {
  process.exitCode = code;
  const engineCommand = cached !== undefined || preloading !== undefined;
  if (engineCommand && process.stdout.writableLength === 0 && process.stderr.writableLength === 0) loadImageAddon().exitNow(code);
}
