#include "engine.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>

#include <cstdlib>
#include <thread>

#include "attacks.h"
#include "distributed.h"

namespace wmnn {
namespace F = torch::nn::functional;

torch::Device resolve_device(const std::string& spec) {
  if (spec == "auto" || spec.empty()) {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
  if (spec == "cpu") return torch::Device(torch::kCPU);
  if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
    TORCH_CHECK(torch::cuda::is_available(), "device '", spec, "' requested but ",
                "this libtorch has no usable CUDA (build against a CUDA libtorch: see README, 'GPU')");
    torch::Device d(spec == "cuda" ? std::string("cuda:0") : spec);
    TORCH_CHECK(d.index() < static_cast<int>(torch::cuda::device_count()), "device '", spec, "' does not exist (",
                torch::cuda::device_count(), " CUDA device(s) visible)");
    return d;
  }
  TORCH_CHECK(false, "unknown device '", spec, "' (use auto, cpu, cuda or cuda:N)");
}

namespace {
// torch.autocast as a scope: on for the forward pass only, as PyTorch recommends (backward runs
// with the casts recorded by autograd).
class AutocastScope {
 public:
  AutocastScope(const torch::Device& device, const std::string& amp) : cuda_(device.is_cuda()), on_(amp != "off") {
    if (!on_) return;
    const auto dtype = amp == "fp16" ? at::kHalf : at::kBFloat16;
    if (cuda_) {
      was_ = at::autocast::is_enabled();
      at::autocast::set_autocast_gpu_dtype(dtype);
      at::autocast::set_enabled(true);
    } else {
      was_ = at::autocast::is_cpu_enabled();
      at::autocast::set_autocast_cpu_dtype(dtype);
      at::autocast::set_cpu_enabled(true);
    }
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    if (cuda_)
      at::autocast::set_enabled(was_);
    else
      at::autocast::set_cpu_enabled(was_);
  }

 private:
  bool cuda_, on_, was_ = false;
};

// GradScaler's defaults.
constexpr double kInitScale = 65536.0, kGrowth = 2.0, kBackoff = 0.5;
constexpr int64_t kGrowthInterval = 2000;

int default_threads(int requested) {
  if (requested > 0) return requested;
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  // Debian's libtorch (no MKL) would start with half the cores; use them all.
  return std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace

Engine::Engine(const EngineOptions& opts)
    : device_(resolve_device(opts.device)),
      threads_(default_threads(opts.threads)),
      num_classes_(opts.num_classes),
      channels_last_(opts.channels_last),
      amp_(opts.amp),
      net_(nullptr) {
  TORCH_CHECK(opts.num_classes >= 1, "num_classes must be at least 1");
  TORCH_CHECK(amp_ == "off" || amp_ == "bf16" || amp_ == "fp16", "unknown --amp '", amp_, "' (use off, bf16 or fp16)");
  TORCH_CHECK(amp_ != "fp16" || device_.is_cuda(), "--amp fp16 needs a CUDA device; on the CPU use --amp bf16");
  if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);  // fixed shapes: let cuDNN pick
  enter_thread();
  net_ = ResNet(num_classes_);
  if (opts.init) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(opts.seed);
    reset_parameters(*net_, gen);
  }
  net_->to(device_);
  if (channels_last_) {
    torch::NoGradGuard no_grad;
    for (auto& p : net_->parameters()) {
      if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  refresh_entries();
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(device_);
  loss_sum_ = torch::zeros({}, f64);
  correct_ = torch::zeros({}, f64.dtype(torch::kInt64));
  if (amp_ == "fp16") {
    loss_scale_ = torch::full({1}, kInitScale, f64.dtype(torch::kFloat32));
    growth_tracker_ = torch::zeros({1}, f64.dtype(torch::kInt32));
  }
}

void Engine::enter_thread() const {
  if (at::get_num_threads() != threads_) at::set_num_threads(threads_);
}

void Engine::refresh_entries() {
  entries_ = state_entries(*net_);
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_[entries_[i].name] = i;
}

const StateEntry& Engine::entry(const std::string& name) const {
  auto it = index_.find(name);
  TORCH_CHECK(it != index_.end(), "the model has no tensor named '", name, "'");
  return entries_[it->second];
}

torch::Tensor Engine::read(const std::string& name) const {
  return entry(name).tensor.detach().to(torch::kCPU).contiguous();
}

namespace {
void check_like(const std::string& name, const torch::Tensor& target, const torch::Tensor& value) {
  TORCH_CHECK(target.sizes() == value.sizes(), "'", name, "' has shape ", target.sizes(), ", got ", value.sizes());
  TORCH_CHECK(target.scalar_type() == value.scalar_type(), "'", name, "' is ", target.scalar_type(), ", got ",
              value.scalar_type());
}
}  // namespace

void Engine::write(const std::string& name, const torch::Tensor& value) {
  auto& t = entry(name).tensor;
  check_like(name, t, value);
  torch::NoGradGuard no_grad;
  t.copy_(value);
}

std::optional<torch::Tensor> Engine::read_momentum(const std::string& name) const {
  entry(name);
  auto it = momentum_.find(name);
  if (it == momentum_.end()) return std::nullopt;
  return it->second.to(torch::kCPU).contiguous();
}

void Engine::write_momentum(const std::string& name, const torch::Tensor& value) {
  const auto& e = entry(name);
  TORCH_CHECK(e.is_parameter, "'", name, "' is a buffer; only parameters have momentum");
  check_like(name, e.tensor, value);
  momentum_[name] = torch::empty_like(e.tensor.detach()).copy_(value);
}

void Engine::set_train_only_linear(bool only_linear) {
  for (auto& e : entries_) {
    if (e.is_parameter) e.tensor.set_requires_grad(!only_linear || e.name.rfind("linear.", 0) == 0);
  }
}

void Engine::reinit_linear(uint64_t seed) {
  // Initialise on the CPU (the generator is a CPU one), then copy onto the device.
  torch::nn::Linear fresh(net_->linear->options);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  reset_linear(*fresh, gen);
  torch::NoGradGuard no_grad;
  net_->linear->weight.copy_(fresh->weight);
  net_->linear->bias.copy_(fresh->bias);
  momentum_.erase("linear.weight");
  momentum_.erase("linear.bias");
}

void Engine::stash_linear() {
  stashed_linear_ = {net_->linear->weight.detach().clone(), net_->linear->bias.detach().clone()};
}

void Engine::swap_linear() {
  TORCH_CHECK(stashed_linear_.has_value(), "no linear layer was stashed");
  torch::NoGradGuard no_grad;
  auto w = net_->linear->weight.detach().clone();
  auto b = net_->linear->bias.detach().clone();
  net_->linear->weight.copy_(stashed_linear_->first);
  net_->linear->bias.copy_(stashed_linear_->second);
  stashed_linear_ = {w, b};
}

void Engine::set_label_smoothing(double eps) {
  TORCH_CHECK(eps >= 0 && eps < 1, "label smoothing must be in [0, 1), got ", eps);
  label_smoothing_ = eps;
}

void Engine::set_soft_targets(int data, const torch::Tensor& teacher_logits, double temperature) {
  if (!teacher_logits.defined()) {
    soft_targets_.erase(data);
    return;
  }
  const auto n = dataset(data).size();
  TORCH_CHECK(teacher_logits.dim() == 2 && teacher_logits.size(0) == n && teacher_logits.size(1) == num_classes_,
              "soft targets must be ", n, " x ", num_classes_, ", got ", teacher_logits.sizes());
  soft_targets_[data] = {soft_targets(teacher_logits.to(device_), temperature), temperature};
}

void Engine::set_mask(const std::string& name, const torch::Tensor& mask) {
  const auto& e = entry(name);
  TORCH_CHECK(e.is_parameter, "'", name, "' is a buffer; only parameters are masked");
  TORCH_CHECK(mask.sizes() == e.tensor.sizes(), "the mask of '", name, "' has shape ", mask.sizes(), ", not ",
              e.tensor.sizes());
  auto m = mask.to(device_, torch::kFloat32).contiguous(e.tensor.suggest_memory_format());
  torch::NoGradGuard no_grad;
  e.tensor.mul_(m);
  if (auto it = momentum_.find(name); it != momentum_.end()) it->second.mul_(m);
  masks_[name] = m;
}

torch::Tensor Engine::channel_means(int data, int64_t batch) {
  TORCH_CHECK(batch > 0, "batch must be positive");
  torch::NoGradGuard no_grad;
  net_->eval();
  // In a job, rank 0's running statistics (each rank's own after a training forward), so that
  // every rank computes the same means.
  if (dist_) dist_->refresh_buffers();
  auto& ds = dataset(data);
  torch::Tensor sum;
  for (int64_t start = 0; start < ds.size(); start += batch) {
    auto b = ds.batch(start, std::min(batch, ds.size() - start));
    torch::Tensor f;
    {
      AutocastScope autocast(device_, amp_);
      f = net_->features(prepare(b.images));
    }
    auto f64 = f.to(torch::kFloat64);
    auto s = torch::stack({f64.mean({2, 3}).sum(0), f64.abs().mean({2, 3}).sum(0)});
    sum = sum.defined() ? sum + s : s;
  }
  TORCH_CHECK(sum.defined(), "channel means of an empty dataset");
  return (sum / static_cast<double>(ds.size())).to(torch::kCPU, torch::kFloat32).contiguous();
}

int Engine::upload(torch::Tensor images_u8, torch::Tensor labels, const torch::Tensor& mean, const torch::Tensor& std) {
  auto ds = std::make_unique<DeviceDataset>(std::move(images_u8), std::move(labels), mean, std, device_);
  int id = next_id_++;
  datasets_[id] = std::move(ds);
  return id;
}

DeviceDataset& Engine::dataset(int id) {
  auto it = datasets_.find(id);
  TORCH_CHECK(it != datasets_.end(), "no dataset with id ", id);
  return *it->second;
}

torch::Tensor Engine::prepare(torch::Tensor x) const {
  x = x.to(device_);
  return channels_last_ ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

void Engine::accumulate(const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& labels) {
  loss_sum_.add_(loss.detach().to(torch::kFloat64));
  correct_.add_(logits.detach().argmax(1).eq(labels).sum());
  steps_ += 1;
  total_ += labels.size(0);
}

void Engine::train_step(int data, int64_t start, int64_t count, int wm, int64_t wm_start, int64_t wm_count) {
  // In a distributed run a rank's shard of a step may be empty (a global batch smaller than the world).
  auto part = [&](int id, int64_t from, int64_t n) { return n == 0 && dist_ ? Batch{} : dataset(id).batch(from, n); };
  auto batch = part(data, start, count);
  if (wm >= 0) {
    // The original appends a batch of trigger images to every training batch.
    auto extra = part(wm, wm_start, wm_count);
    if (!batch.images.defined()) {
      batch = extra;
    } else if (extra.images.defined()) {
      batch = {torch::cat({batch.images, extra.images}), torch::cat({batch.labels, extra.labels})};
    }
  }
  auto soft = soft_targets_.find(data);
  if (soft == soft_targets_.end()) return train_step(batch);
  TORCH_CHECK(wm < 0, "a distillation step takes no appended trigger images");
  train_step(batch, soft->second.first.index_select(0, dataset(data).indices(start, count)), soft->second.second);
}

torch::Tensor Engine::logits_of(const torch::Tensor& x) {
  AutocastScope autocast(device_, amp_);
  return net_->forward(prepare(x)).to(torch::kFloat32);
}

void Engine::train_step(const Batch& batch, const torch::Tensor& soft, double temperature) {
  net_->train();
  if (dist_) dist_->sync_buffers();  // DDP's broadcast_buffers: rank 0's running statistics
  for (auto& e : entries_) {
    if (e.is_parameter) e.tensor.mutable_grad() = torch::Tensor();
  }
  if (!batch.images.defined()) {  // distributed, no images on this rank: the others' gradients
    dist_->begin_step({}, {}, 0);
    accumulate(dist_->end_step());
  } else {
    auto labels = batch.labels.to(device_);
    auto logits = logits_of(batch.images);
    auto loss = soft.defined()
                    ? soft_target_loss(logits, soft, temperature)
                    : F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(label_smoothing_));
    // Distributed: the summed loss, so that the ranks' gradients add up to the global batch's
    // (end_step divides by its size).
    auto objective = dist_ ? loss * static_cast<double>(labels.size(0)) : loss;
    if (dist_) dist_->begin_step(objective, logits.detach().argmax(1).eq(labels).sum(), labels.size(0));
    (amp_ == "fp16" ? objective * loss_scale_ : objective).backward();
    if (dist_)
      accumulate(dist_->end_step());
    else
      accumulate(loss, logits, labels);
  }
  if (amp_ != "fp16" || unscale_or_skip()) sgd_step();
}

// GradScaler.unscale_ + the inf check + update(): one host sync per step, as in PyTorch.
bool Engine::unscale_or_skip() {
  std::vector<torch::Tensor> grads;
  for (auto& e : entries_) {
    if (e.is_parameter && e.tensor.grad().defined()) grads.push_back(e.tensor.mutable_grad());
  }
  auto found_inf = torch::zeros({1}, loss_scale_.options());
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf, loss_scale_.reciprocal());
  at::_amp_update_scale_(loss_scale_, growth_tracker_, found_inf, kGrowth, kBackoff, kGrowthInterval);
  return found_inf.item<float>() == 0;
}

void Engine::sgd_step() {
  {
    // torch.optim.SGD (1.13, single-tensor path): d = g + wd*p; buf = d (first step) or
    // momentum*buf + d; p -= lr*buf. The same operations in the same order.
    torch::NoGradGuard no_grad;
    for (auto& e : entries_) {
      if (!e.is_parameter || !e.tensor.grad().defined()) continue;
      auto& p = e.tensor;
      auto d = p.grad();
      if (sgd_.weight_decay != 0) d = d.add(p, sgd_.weight_decay);
      if (auto m = masks_.find(e.name); m != masks_.end()) d = d.mul(m->second);  // masked weights stay 0
      if (sgd_.momentum != 0) {
        auto it = momentum_.find(e.name);
        if (it == momentum_.end()) {
          d = momentum_.emplace(e.name, d.clone().detach()).first->second;
        } else {
          it->second.mul_(sgd_.momentum).add_(d);
          d = it->second;
        }
      }
      p.add_(d, -sgd_.lr);
    }
  }
}

void Engine::eval_step(int data, int64_t start, int64_t count, bool keep_outputs) {
  torch::NoGradGuard no_grad;
  net_->eval();
  if (dist_) {
    TORCH_CHECK(!keep_outputs, "a distributed evaluation keeps no outputs (each rank sees a shard)");
    dist_->refresh_buffers();
    if (count == 0) return accumulate(dist_->reduce({}, {}, 0));
  }
  auto batch = dataset(data).batch(start, count);
  auto logits = logits_of(batch.images);
  auto loss = F::cross_entropy(logits, batch.labels);
  if (dist_) {
    const int64_t n = batch.labels.size(0);
    return accumulate(dist_->reduce(loss * static_cast<double>(n), logits.argmax(1).eq(batch.labels).sum(), n));
  }
  accumulate(loss, logits, batch.labels);
  if (keep_outputs) kept_logits_.push_back(logits.to(torch::kCPU, torch::kFloat32));
}

EvalOutputs Engine::take_outputs() {
  EvalOutputs out;
  out.logits = kept_logits_.empty() ? torch::zeros({0, num_classes_}) : torch::cat(kept_logits_).contiguous();
  out.predictions = out.logits.argmax(1);
  kept_logits_.clear();
  return out;
}

Metrics Engine::take_metrics() {
  Metrics m{loss_sum_.item<double>(), steps_, correct_.item<int64_t>(), total_};
  if (dist_) m.total += reduced_total_.item<int64_t>();
  loss_sum_.zero_();
  correct_.zero_();
  if (dist_) reduced_total_.zero_();
  steps_ = total_ = 0;
  return m;
}

void Engine::accumulate(const StepTotals& all_ranks) {
  loss_sum_.add_(all_ranks.loss_mean);
  correct_.add_(all_ranks.correct);
  reduced_total_.add_(all_ranks.count);
  steps_ += 1;
}

void Engine::join(std::shared_ptr<Rendezvous> rendezvous) {
  TORCH_CHECK(!dist_, "this model already belongs to a distributed job");
  dist_ = make_distributed(std::move(rendezvous), device_);
  dist_->attach(entries_);
  reduced_total_ = torch::zeros({}, correct_.options());
}

bool Engine::any_rank(bool flag) { return dist_ ? dist_->any(flag) : flag; }

std::optional<double> Engine::take_communication_seconds() {
  if (!dist_ || device_.is_cuda()) return std::nullopt;
  return dist_->take_blocked_seconds();
}

torch::Tensor Engine::forward(const torch::Tensor& images, bool train) {
  torch::NoGradGuard no_grad;
  if (train)
    net_->train();
  else
    net_->eval();
  return logits_of(images).to(torch::kCPU).contiguous();
}

BuildInfo build_info() {
  BuildInfo b;
  b.torch_version = WMNN_TORCH_VERSION;
  b.torch_source = WMNN_TORCH_SOURCE;
  b.torch_dir = WMNN_TORCH_DIR;
  b.cuda_compiled = WMNN_CUDA_BUILD;
  b.cuda_available = torch::cuda::is_available();
  b.cuda_devices = b.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  b.parallel = at::get_parallel_info();
  return b;
}

}  // namespace wmnn
