// The typed facade over the native engine: one ResNet-18 on one device. Everything heavy
// (forward, backward, SGD, batching, augmentation) happens in the addon; this file only gives
// it names and types.
import { loadBinding, type Amp, type BuildInfo, type Hardware, type Metrics, type RawEngine, type TensorInfo } from './binding.js';
import type { Normalization } from '../data/normalization.js';
import type { Tensor } from '../tensor.js';
import { STANDALONE, type Membership, type ProcessGroup } from './group.js';

export type { Amp, BuildInfo, Hardware, Metrics, TensorInfo } from './binding.js';

export interface ModelOptions {
  numClasses: number;
  /** auto (CUDA if available, else CPU), cpu, cuda or cuda:N. */
  device?: string;
  /** Seeds PyTorch's default initialisation: seed S gives `torch.manual_seed(S); ResNet18()`. */
  seed?: number;
  /** Intra-op CPU threads; 0 or absent: OMP_NUM_THREADS if set, else every core. */
  threads?: number;
  channelsLast?: boolean;
  /** Mixed precision (autocast); weights, momentum and BatchNorm statistics stay float32. */
  amp?: Amp;
  /** False when every weight is overwritten next (a checkpoint is loaded): skips the seeded initialisation. */
  init?: boolean;
}

export interface SgdSettings {
  lr: number;
  momentum: number;
  weightDecay: number;
}

/** Labelled 32x32 RGB images: N x 3 x 32 x 32 uint8 in channel planes, N int32 labels, their Normalize. */
export interface LabelledImages {
  images: Uint8Array;
  labels: Int32Array;
  normalization: Normalization;
}

export function buildInfo(): BuildInfo {
  return loadBinding().buildInfo();
}

/** The device a --device value means on this machine: 'cpu' or 'cuda:N'. */
export function resolveDevice(spec: string): string {
  return loadBinding().resolveDevice(spec);
}

/** What the CPU, and the CUDA device `device` names (if it is one), run natively. */
export function hardware(device = 'cpu'): Hardware {
  const cuda = /^cuda:(\d+)$/.exec(device);
  return loadBinding().hardware(cuda ? Number(cuda[1]) : -1);
}

/** An image set resident on the model's device; each epoch's order and augmentation come from a seed. */
export class DeviceData {
  constructor(
    private readonly raw: RawEngine,
    readonly id: number,
    readonly size: number,
  ) {}

  /** New order (shuffled or 0..N-1) and, with `augment`, new crop offsets and flips, all drawn from `seed`. */
  newEpoch(shuffle: boolean, augment: boolean, seed = 0): void {
    this.raw.newEpoch(this.id, shuffle, augment, seed);
  }

  /** The normalised (and, this epoch, augmented) images and labels of items [start, start+count). */
  peek(start: number, count: number): { images: Tensor<'float32'>; labels: Int32Array } {
    const b = this.raw.peekBatch(this.id, start, count);
    return { images: b.images, labels: b.labels.data };
  }

  /** Frees the set on the device (its soft targets too); the id is invalid afterwards. */
  drop(): void {
    this.raw.drop(this.id);
  }
}

/** A slice [start, start+count) of a DeviceData's current order. */
export interface Slice {
  data: DeviceData;
  start: number;
  count: number;
}

export class Model {
  private readonly raw: RawEngine;
  readonly device: string;
  readonly threads: number;
  readonly numClasses: number;
  readonly amp: Amp;
  private joined: Membership = STANDALONE;

  constructor(opts: ModelOptions) {
    const { Engine } = loadBinding();
    this.raw = new Engine({
      numClasses: opts.numClasses,
      device: opts.device ?? 'auto',
      seed: opts.seed ?? 0,
      threads: opts.threads ?? 0,
      channelsLast: opts.channelsLast ?? true,
      amp: opts.amp ?? 'off',
      init: opts.init ?? true,
    });
    const d = this.raw.describe();
    this.device = d.device;
    this.threads = d.threads;
    this.numClasses = d.numClasses;
    this.amp = d.amp;
  }

  /** Names, shapes and dtypes of every parameter and buffer, in PyTorch's state_dict order. */
  tensors(): TensorInfo[] {
    return this.raw.tensors();
  }

  read(name: string): Tensor {
    return this.raw.read(name);
  }

  /** Overwrites a parameter or buffer; shape and dtype must match. */
  write(name: string, value: Tensor): void {
    this.raw.write(name, value);
  }

  /** The SGD momentum buffer of a parameter, or null before its first step. */
  readMomentum(name: string): Tensor | null {
    return this.raw.readMomentum(name);
  }

  writeMomentum(name: string, value: Tensor): void {
    this.raw.writeMomentum(name, value);
  }

  clearMomentum(): void {
    this.raw.clearMomentum();
  }

  /** Every parameter and buffer as [name, tensor], in state_dict order. */
  stateDict(): [string, Tensor][] {
    return this.tensors().map((t) => [t.name, this.read(t.name)]);
  }

  setSgd(sgd: SgdSettings): void {
    this.raw.setSgd(sgd);
  }

  /** Fine-tuning the last layer only: every parameter outside `linear` stops receiving gradients. */
  trainOnlyLinear(onlyLinear: boolean): void {
    this.raw.setTrainOnlyLinear(onlyLinear);
  }

  /** Replaces `linear` by a freshly initialised layer (PyTorch's default init, seeded). */
  reinitLinear(seed: number): void {
    this.raw.reinitLinear(seed);
  }

  /** Keeps a copy of the current `linear` (the owner's private key in fine-tuning). */
  stashLinear(): void {
    this.raw.stashLinear();
  }

  /** Exchanges the current `linear` with the stashed one; a second call swaps back. */
  swapLinear(): void {
    this.raw.swapLinear();
  }

  /** Cross-entropy with label smoothing `eps` in every later step (the label-smoothing attack); 0: the original's loss. */
  setLabelSmoothing(eps: number): void {
    this.raw.setLabelSmoothing(eps);
  }

  /**
   * Distillation: steps on `data` minimise T^2 * KL(softmax(teacher / T) || softmax(student / T))
   * towards each item's row of `teacherLogits` (N x numClasses); null goes back to its labels.
   */
  setSoftTargets(data: DeviceData, teacherLogits: Float32Array | null, temperature = 1): void {
    this.raw.setSoftTargets(data.id, teacherLogits, temperature);
  }

  /** Zeroes parameter `name` where `mask` is 0 and keeps it there through every later step. */
  setMask(name: string, mask: Tensor<'float32'>): void {
    this.raw.setMask(name, mask);
  }

  clearMasks(): void {
    this.raw.clearMasks();
  }

  /** Eval-mode mean and mean absolute activation of each channel of the last convolutional stage over `data`. */
  async channelMeans(data: DeviceData, batchSize: number): Promise<{ mean: Float32Array; meanAbs: Float32Array }> {
    data.newEpoch(false, false);
    const t = (await this.raw.channelMeans(data.id, batchSize)).data;
    const channels = t.length / 2;
    return { mean: t.subarray(0, channels), meanAbs: t.subarray(channels) };
  }

  /** Copies an image set (and its mean and std) to the model's device once. */
  upload(set: LabelledImages): DeviceData {
    const { mean, std } = set.normalization;
    const id = this.raw.upload(set.images, set.labels, Float32Array.from(mean), Float32Array.from(std));
    return new DeviceData(this.raw, id, set.labels.length);
  }

  /** One SGD step (train mode) on `batch`, with `trigger` (trigger images) appended when given. */
  trainStep(batch: Slice, trigger?: Slice): Promise<void> {
    return this.raw.trainStep(
      batch.data.id,
      batch.start,
      batch.count,
      trigger ? trigger.data.id : -1,
      trigger?.start ?? 0,
      trigger?.count ?? 0,
    );
  }

  /** No-grad, eval-mode forward of `batch`; with `keepOutputs` its logits are kept for takeOutputs(). */
  evalStep(batch: Slice, keepOutputs = false): Promise<void> {
    return this.raw.evalStep(batch.data.id, batch.start, batch.count, keepOutputs);
  }

  /** Reads (one device synchronisation) and resets the accumulated metrics. */
  takeMetrics(): Metrics {
    return this.raw.takeMetrics();
  }

  /** The logits (N x C) and predicted labels kept by evalStep(..., true) since the last call. */
  takeOutputs(): { logits: Tensor<'float32'>; predictions: Int32Array } {
    const o = this.raw.takeOutputs();
    return { logits: o.logits, predictions: o.predictions.data };
  }

  /**
   * Frees the model and the data uploaded to it now, after any call in flight, instead of whenever
   * the garbage collector gets to it (it does not see the native memory); later calls throw.
   */
  release(): void {
    this.raw.release();
  }

  /** Logits for normalised images, in train (BatchNorm updates) or eval mode. */
  forward(images: Float32Array, train: boolean): Promise<Tensor<'float32'>> {
    return this.raw.forward(images, images.length / 3072, train);
  }

  /**
   * Makes this model one rank of `group`'s job: rank 0's weights and buffers are copied here; from
   * now on every train step averages gradients over the ranks (each rank passing its shard of the
   * global batch, possibly empty), and every eval step sums metrics over them.
   */
  joinGroup(group: ProcessGroup): void {
    this.raw.joinGroup(group.raw);
    this.joined = { rank: group.rank, worldSize: group.worldSize };
  }

  /** This model's rank in a data-parallel job (joinGroup); rank 0 of 1 until then. */
  get membership(): Membership {
    return this.joined;
  }

  /** True on every rank when `flag` is true on any (one collective); stand-alone: `flag`. */
  anyRank(flag: boolean): boolean {
    return this.raw.anyRank(flag);
  }

  /**
   * Seconds this rank spent blocked in collectives since the last call: gradient communication
   * the backward pass did not hide, and waits for slower ranks. Null when alone, and on CUDA,
   * where the host does not wait for NCCL.
   */
  takeCommunicationSeconds(): number | null {
    return this.raw.takeCommunicationSeconds();
  }
}
