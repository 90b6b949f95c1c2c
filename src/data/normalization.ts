// The Normalize step of a dataset's transform (x / 255, then (x - mean) / std per channel), which
// each image set carries to the device: the network must see its inputs scaled the way its training
// data was, and the trigger set is scaled like the training data it is mixed into (the original
// applies its test transform, with the training set's constants, to the trigger images).

export type Rgb = readonly [number, number, number];

export interface Normalization {
  mean: Rgb;
  std: Rgb;
}

/** torchvision.transforms.Normalize of the original scripts, for CIFAR (and every set it had). */
export const CIFAR_NORMALIZATION: Normalization = { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010] };

/** The same value for the three channels: a grey dataset replicated to RGB. */
export function greyNormalization(mean: number, std: number): Normalization {
  return { mean: [mean, mean, mean], std: [std, std, std] };
}

/**
 * Mean and (population) standard deviation of uint8 samples scaled to 0..1, the way a dataset's
 * constants are computed from its training split; summed in integers, so exact before the division.
 */
export function sampleStats(samples: Uint8Array): { mean: number; std: number } {
  let sum = 0;
  let squares = 0;
  for (const v of samples) {
    sum += v;
    squares += v * v;
  }
  const n = samples.length;
  const mean = sum / n;
  return { mean: mean / 255, std: Math.sqrt(squares / n - mean * mean) / 255 };
}
