// The training engine: one ResNet-18 on one device, its SGD state, the datasets uploaded to that
// device, and the running metrics. Everything a command does to a model goes through here.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "data.h"
#include "model.h"

namespace wmnn {

class Distributed;
class Rendezvous;
struct StepTotals;

struct EngineOptions {
  int64_t num_classes = 10;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  uint64_t seed = 0;
  int threads = 0;  // 0: OMP_NUM_THREADS if set, else every core
  bool channels_last = true;
  // Mixed precision: "off", "bf16" (CPU and CUDA) or "fp16" (CUDA, with dynamic loss scaling).
  // Weights, optimiser state and BatchNorm statistics stay float32 either way.
  std::string amp = "off";
  // False when every weight is overwritten next (a checkpoint is loaded): the seeded
  // initialisation is skipped, leaving the weights libtorch's constructors drew.
  bool init = true;
};

struct SgdOptions {
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 5e-4;
};

// Accumulated on the device; read (one synchronisation) only when asked.
struct Metrics {
  double loss_sum = 0;  // sum over steps of each step's mean loss (the original's running loss)
  int64_t steps = 0;
  int64_t correct = 0;
  int64_t total = 0;
};

struct EvalOutputs {
  torch::Tensor logits;       // float32 N x C on the CPU
  torch::Tensor predictions;  // int64 N on the CPU
};

class Engine {
 public:
  explicit Engine(const EngineOptions& opts);

  const torch::Device& device() const { return device_; }
  int threads() const { return threads_; }
  int64_t num_classes() const { return num_classes_; }
  bool channels_last() const { return channels_last_; }
  const std::string& amp() const { return amp_; }

  // Named tensors, in PyTorch's state_dict order.
  const std::vector<StateEntry>& entries() const { return entries_; }
  torch::Tensor read(const std::string& name) const;                // CPU, contiguous
  void write(const std::string& name, const torch::Tensor& value);  // from the CPU
  std::optional<torch::Tensor> read_momentum(const std::string& name) const;
  void write_momentum(const std::string& name, const torch::Tensor& value);
  void clear_momentum() { momentum_.clear(); }

  void set_sgd(const SgdOptions& sgd) { sgd_ = sgd; }
  // Fine-tuning the last layer: only linear.* receives gradients; BatchNorm still updates its
  // running statistics in train mode (the original's FTLL/RTLL).
  void set_train_only_linear(bool only_linear);
  // RTLL/RTAL: a freshly initialised linear layer (PyTorch's default init from `seed`).
  void reinit_linear(uint64_t seed);
  // The private-key evaluation of fine-tuning: keep a copy of `linear`, later exchange it with
  // the current one (call twice to swap back).
  void stash_linear();
  void swap_linear();

  // What the removal attacks change in training (wmnn attack); all off by default.
  // Cross-entropy with label smoothing `eps` (the label-smoothing attack); 0: the original's loss.
  void set_label_smoothing(double eps);
  // Soft labels for dataset `data`: steps on it minimise the distillation loss towards
  // softmax(teacher_logits / T) of each item (N x C); an undefined tensor removes them.
  void set_soft_targets(int data, const torch::Tensor& teacher_logits, double temperature);
  // Keeps parameter `name` at zero where `mask` is 0 (same shape; 0/1), through every later step:
  // the parameter is zeroed there now and its update masked (fine-pruning's pruned channels).
  void set_mask(const std::string& name, const torch::Tensor& mask);
  void clear_masks() { masks_.clear(); }
  // Eval-mode mean activation (row 0) and mean absolute activation (row 1) of each channel of the
  // last convolutional stage over dataset `data` (2 x channels; `batch` images at a time):
  // fine-pruning ranks channels by how active they are on clean data.
  torch::Tensor channel_means(int data, int64_t batch);

  // Datasets live on the engine's device; the id is what JavaScript holds.
  int upload(torch::Tensor images_u8, torch::Tensor labels, const torch::Tensor& mean, const torch::Tensor& std);
  // Frees a dataset and its soft targets (the attacks upload a transformed copy per strength).
  void drop(int id) {
    datasets_.erase(id);
    soft_targets_.erase(id);
  }
  DeviceDataset& dataset(int id);

  // One SGD step on items [start, start+count) of `data`, with items [wm_start, wm_start+wm_count)
  // of the trigger set `wm` appended (wm < 0: none). Train mode; metrics accumulate.
  void train_step(int data, int64_t start, int64_t count, int wm, int64_t wm_start, int64_t wm_count);
  // With `soft` (distillation), the loss is the soft-label loss towards its rows at `temperature`.
  void train_step(const Batch& batch, const torch::Tensor& soft = {}, double temperature = 1);
  // A no-grad, eval-mode forward of items [start, start+count); metrics accumulate; with
  // `keep_outputs`, logits and predictions are kept for take_outputs().
  void eval_step(int data, int64_t start, int64_t count, bool keep_outputs);
  EvalOutputs take_outputs();
  Metrics take_metrics();  // reads and resets
  // Raw forward on given normalised images (tests, tools); train mode updates BatchNorm.
  torch::Tensor forward(const torch::Tensor& images, bool train);

  // Data-parallel training (distributed.h): takes rank 0's weights, then every train step averages
  // gradients over the ranks, each eval step sums metrics over them, and a step may have no
  // images on this rank (count 0). A model joins at most one job.
  void join(std::shared_ptr<Rendezvous> rendezvous);
  bool any_rank(bool flag);  // `flag` on any rank (stand-alone: `flag`)
  // Seconds this rank was blocked in collectives since the last call (Distributed::
  // take_blocked_seconds); none when alone, or on CUDA, where the host does not wait for them.
  std::optional<double> take_communication_seconds();

  // Engine calls arrive from worker threads; one at a time per engine.
  std::mutex& mutex() { return mutex_; }
  void enter_thread() const;  // per-thread set-up (intra-op thread count)

 private:
  torch::Tensor prepare(torch::Tensor x) const;
  torch::Tensor logits_of(const torch::Tensor& x);  // forward under autocast when AMP is on
  void sgd_step();
  bool unscale_or_skip();  // fp16: unscale gradients; false when they overflowed (step skipped)
  const StateEntry& entry(const std::string& name) const;
  void accumulate(const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& labels);
  void accumulate(const StepTotals& all_ranks);
  void refresh_entries();

  torch::Device device_;
  int threads_;
  int64_t num_classes_;
  bool channels_last_;
  std::string amp_;
  torch::Tensor loss_scale_, growth_tracker_;  // fp16 only
  ResNet net_;
  std::vector<StateEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, torch::Tensor> momentum_;
  SgdOptions sgd_;
  std::map<int, std::unique_ptr<DeviceDataset>> datasets_;
  int next_id_ = 1;
  std::optional<std::pair<torch::Tensor, torch::Tensor>> stashed_linear_;
  torch::Tensor loss_sum_, correct_;  // device accumulators
  int64_t steps_ = 0, total_ = 0;
  std::vector<torch::Tensor> kept_logits_;
  std::shared_ptr<Distributed> dist_;  // set by join()
  torch::Tensor reduced_total_;        // distributed: images counted on the device, all ranks
  double label_smoothing_ = 0;
  std::map<int, std::pair<torch::Tensor, double>> soft_targets_;  // dataset id -> (N x C targets, T)
  std::map<std::string, torch::Tensor> masks_;
  std::mutex mutex_;
};

// What this build links against (printed by the build and by `wmnn --version`).
struct BuildInfo {
  std::string torch_version, torch_source, torch_dir;
  bool cuda_compiled, cuda_available;
  int cuda_devices;
  std::string parallel;
};
BuildInfo build_info();
torch::Device resolve_device(const std::string& spec);

}  // namespace wmnn
