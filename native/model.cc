#include "model.h"

#include <cmath>

namespace wmnn {
namespace F = torch::nn::functional;

namespace {
// kaiming_uniform_(w, a=sqrt(5)) as torch.nn.init computes it, in double, step for step,
// so that the bound (and hence every drawn value) is bit-identical to Python's.
void kaiming_uniform_a_sqrt5(torch::Tensor& w, at::Generator& gen) {
  const double fan_in = static_cast<double>(w.numel() / w.size(0));
  const double a = std::sqrt(5.0);
  const double gain = std::sqrt(2.0 / (1 + std::pow(a, 2)));
  const double stdev = gain / std::sqrt(fan_in);
  const double bound = std::sqrt(3.0) * stdev;
  torch::NoGradGuard no_grad;
  w.uniform_(-bound, bound, gen);
}
}  // namespace

ConvImpl::ConvImpl(int64_t in_planes, int64_t out_planes, int64_t kernel, int64_t stride, int64_t padding)
    : stride(stride), padding(padding) {
  weight = register_parameter("weight", torch::empty({out_planes, in_planes, kernel, kernel}));
}

// What torch::nn::Conv2d's forward calls, so the same kernels and the same numbers.
torch::Tensor ConvImpl::forward(const torch::Tensor& x) { return torch::conv2d(x, weight, {}, stride, padding); }

PreActBlockImpl::PreActBlockImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(in_planes));
  conv1 = register_module("conv1", Conv(in_planes, planes, 3, stride, 1));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", Conv(planes, planes, 3, 1, 1));
  if (stride != 1 || in_planes != planes) {
    shortcut = register_module("shortcut", torch::nn::Sequential(Conv(in_planes, planes, 1, stride, 0)));
  }
}

// The ReLUs and the sum write into tensors just made (a batch norm's output, a convolution's),
// which no backward pass needs, instead of allocating new ones: the same numbers, less memory.
torch::Tensor PreActBlockImpl::forward(const torch::Tensor& x) {
  auto out = bn1(x).relu_();
  auto sc = shortcut ? shortcut->forward(out) : x;
  out = conv1(out);
  out = conv2(bn2(out).relu_());
  return out.add_(sc);
}

ResNetImpl::ResNetImpl(int64_t num_classes) {
  conv1 = register_module("conv1", Conv(3, 64, 3, 1, 1));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(64));
  int64_t in_planes = 64;
  auto make_layer = [&](int64_t planes, int64_t stride) {
    torch::nn::Sequential layer;
    layer->push_back(PreActBlock(in_planes, planes, stride));
    layer->push_back(PreActBlock(planes, planes, 1));
    in_planes = planes;
    return layer;
  };
  layer1 = register_module("layer1", make_layer(64, 1));
  layer2 = register_module("layer2", make_layer(128, 2));
  layer3 = register_module("layer3", make_layer(256, 2));
  layer4 = register_module("layer4", make_layer(512, 2));
  linear = register_module("linear", torch::nn::Linear(512, num_classes));
}

torch::Tensor ResNetImpl::features(const torch::Tensor& x) {
  auto out = bn1(conv1(x)).relu_();
  return layer4->forward(layer3->forward(layer2->forward(layer1->forward(out))));
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  auto out = F::avg_pool2d(features(x), F::AvgPool2dFuncOptions(4));
  return linear(out.flatten(1));
}

namespace {
void collect(torch::nn::Module& m, const std::string& prefix, std::vector<StateEntry>& out) {
  for (auto& p : m.named_parameters(/*recurse=*/false)) out.push_back({prefix + p.key(), p.value(), true});
  for (auto& b : m.named_buffers(/*recurse=*/false)) out.push_back({prefix + b.key(), b.value(), false});
  for (auto& c : m.named_children()) collect(*c.value(), prefix + c.key() + ".", out);
}

void reset_module(torch::nn::Module& m, at::Generator& gen) {
  if (auto* c = m.as<Conv>()) {
    kaiming_uniform_a_sqrt5(c->weight, gen);
  } else if (auto* l = m.as<torch::nn::Linear>()) {
    reset_linear(*l, gen);
  } else if (auto* bn = m.as<torch::nn::BatchNorm2d>()) {
    bn->reset_parameters();  // weight 1, bias 0, running stats 0/1, count 0: no randomness
  }
  for (auto& c : m.children()) reset_module(*c, gen);
}
}  // namespace

std::vector<StateEntry> state_entries(torch::nn::Module& root) {
  std::vector<StateEntry> out;
  collect(root, "", out);
  return out;
}

void reset_linear(torch::nn::LinearImpl& linear, at::Generator& gen) {
  kaiming_uniform_a_sqrt5(linear.weight, gen);
  const double fan_in = static_cast<double>(linear.weight.size(1));
  const double bound = fan_in > 0 ? 1 / std::sqrt(fan_in) : 0;
  torch::NoGradGuard no_grad;
  linear.bias.uniform_(-bound, bound, gen);
}

// Children are visited in registration order, which is the order Python's __init__ builds them.
void reset_parameters(ResNetImpl& net, at::Generator& gen) { reset_module(net, gen); }

}  // namespace wmnn
