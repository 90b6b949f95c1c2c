#include "data.h"

namespace wmnn {
namespace {
constexpr int64_t kSize = 32;
constexpr int64_t kPad = 4;
constexpr int64_t kPadded = kSize + 2 * kPad;
}  // namespace

Normalization Normalization::of(const torch::Tensor& mean, const torch::Tensor& std, const torch::Device& device) {
  TORCH_CHECK(mean.numel() == 3 && std.numel() == 3, "need 3 means and 3 stds (one per channel)");
  auto place = [&](const torch::Tensor& t) {
    return t.to(torch::kFloat32).reshape({1, 3, 1, 1}).to(device, /*non_blocking=*/false, /*copy=*/true);
  };
  return {place(mean), place(std)};
}

DeviceDataset::DeviceDataset(torch::Tensor images, torch::Tensor labels, const torch::Tensor& mean,
                             const torch::Tensor& std, torch::Device device)
    : device_(device) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3 && images.size(2) == kSize && images.size(3) == kSize,
              "images must be N x 3 x 32 x 32");
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), "need one label per image");
  images_ = images.to(device_, torch::kUInt8).contiguous();
  labels_ = labels.to(device_, torch::kInt64);
  stats_ = Normalization::of(mean, std, device_);
  new_epoch(false, false, 0);
}

void DeviceDataset::new_epoch(bool shuffle, bool augment, uint64_t seed) {
  const int64_t n = size();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto cpu = torch::TensorOptions().dtype(torch::kInt64);
  // To a GPU through pinned memory, without blocking the host.
  auto upload = [&](torch::Tensor t) {
    return device_.is_cuda() ? t.pin_memory().to(device_, /*non_blocking=*/true) : t;
  };
  order_ = upload(shuffle ? torch::randperm(n, gen, cpu) : torch::arange(n, cpu));
  augment_ = augment;
  if (augment) {
    dx_ = upload(torch::randint(0, 2 * kPad + 1, {n}, gen, cpu));
    dy_ = upload(torch::randint(0, 2 * kPad + 1, {n}, gen, cpu));
    flip_ = upload(torch::randint(0, 2, {n}, gen, cpu));
  }
}

Batch DeviceDataset::batch(int64_t start, int64_t count) const {
  TORCH_CHECK(start >= 0 && count > 0 && start + count <= size(), "batch [", start, ", ", start + count,
              ") is outside the dataset of ", size());
  auto idx = order_.narrow(0, start, count);
  auto u8 = images_.index_select(0, idx);
  if (augment_) {
    u8 = crop_flip(u8, dx_.narrow(0, start, count), dy_.narrow(0, start, count), flip_.narrow(0, start, count));
  }
  return {normalize(u8, stats_), labels_.index_select(0, idx)};
}

// Zero-pad the uint8 image by 4 (so padded pixels normalise to -mean/std, as torchvision's
// RandomCrop on a PIL image does), then take each image's 32x32 window, mirrored where `flip`,
// as one gather over the flattened 40x40 planes.
torch::Tensor DeviceDataset::crop_flip(const torch::Tensor& images_u8, const torch::Tensor& dx, const torch::Tensor& dy,
                                       const torch::Tensor& flip) {
  const int64_t n = images_u8.size(0);
  auto opts = torch::TensorOptions().dtype(torch::kInt64).device(images_u8.device());
  auto padded = torch::constant_pad_nd(images_u8, {kPad, kPad, kPad, kPad}, 0).reshape({n, 3, kPadded * kPadded});
  auto j = torch::arange(kSize, opts);
  auto rows = dy.view({n, 1}) + j.view({1, kSize});  // n x 32
  auto cols_fwd = j.view({1, kSize});
  auto cols = torch::where(flip.view({n, 1}).to(torch::kBool), (kSize - 1) - cols_fwd, cols_fwd) + dx.view({n, 1});
  auto index = (rows.view({n, kSize, 1}) * kPadded + cols.view({n, 1, kSize})).view({n, 1, kSize * kSize});
  return padded.gather(2, index.expand({n, 3, kSize * kSize})).view({n, 3, kSize, kSize});
}

// ToTensor (x / 255) then Normalize ((x - mean) / std), the same float32 operations in the same
// order as torchvision, so the result is bit-identical.
torch::Tensor DeviceDataset::normalize(const torch::Tensor& images_u8, const Normalization& stats) {
  auto x = images_u8.to(torch::kFloat32).div_(255);
  return x.sub_(stats.mean).div_(stats.std);
}

}  // namespace wmnn
