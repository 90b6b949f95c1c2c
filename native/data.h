// A labelled image set held once on the training device as uint8, and the batches made from it:
// per-epoch shuffling, RandomCrop(32, padding=4) + RandomHorizontalFlip as whole-batch gathers,
// and ToTensor + Normalize with the dataset's mean and std (given by the caller: CIFAR's constants
// for CIFAR, a trigger set uses those of the model's training data). No per-image host work, no
// per-step copies.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace wmnn {

// Normalize's per-channel mean and std as 1 x 3 x 1 x 1 float32 tensors.
struct Normalization {
  torch::Tensor mean, std;
  // From 3 + 3 float32 values (any device), placed on `device` once.
  static Normalization of(const torch::Tensor& mean, const torch::Tensor& std, const torch::Device& device);
};

struct Batch {
  torch::Tensor images;  // float32 N x 3 x 32 x 32, normalised, on the device
  torch::Tensor labels;  // int64 N, on the device
};

class DeviceDataset {
 public:
  // `images`: N x 3 x 32 x 32 uint8 (channel planes, as CIFAR stores them); `labels`: N int64;
  // `mean`, `std`: 3 float32 each, the Normalize of this set.
  DeviceDataset(torch::Tensor images, torch::Tensor labels, const torch::Tensor& mean, const torch::Tensor& std,
                torch::Device device);

  int64_t size() const { return labels_.size(0); }

  // Start an epoch: a new order (a permutation when `shuffle`, else 0..N-1) and, when `augment`,
  // new crop offsets (uniform 0..8) and flips (p = 0.5), all drawn on the host from a generator
  // seeded with `seed`: an epoch is a function of its seed on every device, so a resumed run
  // needs no generator state.
  void new_epoch(bool shuffle, bool augment, uint64_t seed);

  // Items [start, start + count) of the current order.
  Batch batch(int64_t start, int64_t count) const;
  // The dataset indices of those items (per-item data kept elsewhere, e.g. distillation targets).
  torch::Tensor indices(int64_t start, int64_t count) const { return order_.narrow(0, start, count); }

  // Shared with the tests: the augmentation of explicit uint8 images with given offsets/flips.
  static torch::Tensor crop_flip(const torch::Tensor& images_u8, const torch::Tensor& dx, const torch::Tensor& dy,
                                 const torch::Tensor& flip);
  // ToTensor + Normalize, with `stats` on the images' device.
  static torch::Tensor normalize(const torch::Tensor& images_u8, const Normalization& stats);

 private:
  torch::Device device_;
  torch::Tensor images_, labels_;
  Normalization stats_;                   // on the device once, not copied per batch
  torch::Tensor order_, dx_, dy_, flip_;  // per-epoch draws, on the device
  bool augment_ = false;
};

}  // namespace wmnn
