// The pre-activation ResNet-18 of WatermarkNN (models/resnet.py: ResNet18 = ResNet(PreActBlock,
// [2,2,2,2])), as torch::nn modules whose registered names reproduce PyTorch's state_dict keys
// one for one: conv1.weight, bn1.running_mean, layer2.0.shortcut.0.weight, linear.bias, ...
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace wmnn {

// nn.Conv2d(in, out, kernel, stride, padding, bias=False): the one tensor `weight`, made without
// values. torch::nn::Conv2d would draw initial weights on construction (11M values for the
// network), which are then overwritten anyway: by reset_parameters' draws, or by a checkpoint's.
struct ConvImpl : torch::nn::Module {
  ConvImpl(int64_t in_planes, int64_t out_planes, int64_t kernel, int64_t stride, int64_t padding);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;
  int64_t stride, padding;
};
TORCH_MODULE(Conv);

// out = relu(bn1(x)); shortcut = shortcut(out) if present else x;
// out = conv2(relu(bn2(conv1(out)))); return out + shortcut   (no ReLU after the sum)
struct PreActBlockImpl : torch::nn::Module {
  PreActBlockImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::BatchNorm2d bn1{nullptr};
  Conv conv1{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr};
  Conv conv2{nullptr};
  torch::nn::Sequential shortcut{nullptr};  // only where stride != 1 or the width changes
};
TORCH_MODULE(PreActBlock);

struct ResNetImpl : torch::nn::Module {
  explicit ResNetImpl(int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& x);
  // The last convolutional stage's output (layer4, N x 512 x 4 x 4): what fine-pruning ranks.
  torch::Tensor features(const torch::Tensor& x);

  Conv conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear linear{nullptr};
};
TORCH_MODULE(ResNet);

// One entry of the state_dict, in PyTorch's order (a module's parameters, then its buffers,
// then its children, depth first).
struct StateEntry {
  std::string name;
  torch::Tensor tensor;
  bool is_parameter;
};
std::vector<StateEntry> state_entries(torch::nn::Module& root);

// PyTorch's default initialisation, in the order Python's constructors run it, drawing from
// `gen`: with a CPU generator seeded S it reproduces `torch.manual_seed(S); ResNet18()`.
void reset_parameters(ResNetImpl& net, at::Generator& gen);
void reset_linear(torch::nn::LinearImpl& linear, at::Generator& gen);

}  // namespace wmnn
