// Data-parallel training over PyTorch's c10d: the rendezvous (a TCPStore held by rank 0, the
// torchrun protocol), the collective backend (Gloo for CPU tensors, NCCL for CUDA ones), and the
// gradient averaging of DistributedDataParallel: parameters in buckets, each bucket's all-reduce
// launched from the autograd hooks as soon as its last gradient is ready, so communication
// overlaps the rest of the backward pass.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <vector>

#include "model.h"

namespace wmnn {

// Gloo and NCCL are ProcessGroups in libtorch 1.x and Backends (behind a ProcessGroup) from 2.0;
// the collectives used here are the same on both.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

struct RendezvousOptions {
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int rank = 0;
  int world_size = 1;
  // Bounds every wait: joining, each collective, the census after a failure.
  std::chrono::milliseconds timeout{60000};
  // What every rank must agree on to run the same job (the command line); checked at join.
  std::string fingerprint;
};

// This process's membership of a job of `world_size` ranks. Construction blocks until every rank
// has joined with the same world size and fingerprint, or fails with one line naming the cause.
class Rendezvous {
 public:
  explicit Rendezvous(const RendezvousOptions& opts);

  int rank() const { return opts_.rank; }
  int world_size() const { return opts_.world_size; }
  std::chrono::milliseconds timeout() const { return opts_.timeout; }
  const c10::intrusive_ptr<c10d::Store>& store() const { return store_; }
  // Rank 0's `value`, on every rank (calls must come in the same order on every rank).
  int64_t share(int64_t value);
  // After a failed collective: which other ranks did not report the failure too within a short
  // grace (they died or hang), as a phrase for the error message.
  std::string census();

 private:
  void join();
  [[noreturn]] void abort_join(const std::string& message);
  std::string where() const;

  RendezvousOptions opts_;
  c10::intrusive_ptr<c10d::Store> store_;
  int64_t shared_ = 0;
  bool census_taken_ = false;
};

// What a step contributed, summed over every rank, on the engine's device (no host sync).
struct StepTotals {
  torch::Tensor loss_mean;  // float64: the step's mean loss over the global batch
  torch::Tensor correct;    // int64
  torch::Tensor count;      // int64: images in the global batch
};

// One engine's side of the job: the collective backend for its device and the gradient buckets.
class Distributed {
 public:
  Distributed(std::shared_ptr<Rendezvous> rendezvous, const torch::Device& device);

  int rank() const { return rendezvous_->rank(); }
  int world_size() const { return rendezvous_->world_size(); }
  const std::string& backend() const { return backend_name_; }

  // Rank 0's parameters and buffers everywhere (DDP's initial broadcast); hooks on every
  // parameter for the gradient buckets.
  void attach(const std::vector<StateEntry>& entries);
  // BatchNorm's running statistics from rank 0 (DDP's broadcast_buffers), before a training
  // forward; refresh_buffers does it only when a training forward has changed them since (before
  // an evaluation, whose forward leaves them alone).
  void sync_buffers();
  void refresh_buffers();

  // A training step: `loss_sum` is this rank's summed (not mean) loss over its `count` images,
  // whose backward the caller runs between begin_step and end_step. end_step waits for the
  // buckets and leaves every trainable parameter's .grad equal to the gradient of the mean loss
  // over the global batch; a rank with no images (count 0) runs no backward.
  void begin_step(const torch::Tensor& loss_sum, const torch::Tensor& correct, int64_t count);
  StepTotals end_step();
  // An evaluation step's metrics, summed over every rank.
  StepTotals reduce(const torch::Tensor& loss_sum, const torch::Tensor& correct, int64_t count);
  // True on every rank when `flag` is true on any (e.g. a Ctrl-C seen by one rank).
  bool any(bool flag);
  // Host seconds spent in collectives since the last call: the communication the backward pass
  // did not hide, and the waits for slower ranks. Meaningful on CPU ranks, where Gloo's waits
  // block the host; NCCL's waits only order the GPU's stream.
  double take_blocked_seconds();

  struct Buckets;  // the bucket layout and the state of the current step (distributed.cc)

 private:
  template <typename F>
  auto collective(const char* what, F&& f) -> decltype(f());
  void broadcast_flat(const std::vector<torch::Tensor>& tensors);
  void launch(size_t bucket);
  void on_grad(size_t param, const torch::Tensor& grad);
  void build_layout();
  StepTotals totals_of(const torch::Tensor& stats) const;

  std::shared_ptr<Rendezvous> rendezvous_;
  torch::Device device_;
  std::string backend_name_;
  c10::intrusive_ptr<CollectiveBackend> group_;
  std::vector<torch::Tensor> params_, buffers_;
  std::unique_ptr<Buckets> buckets_;
  bool buffers_stale_ = false;
  std::string failed_;                  // the first collective failure; every later call repeats it
  std::atomic<int64_t> blocked_ns_{0};  // hooks launch from autograd's threads
};

// A process group lives until the process ends: its backend threads may still be inside a
// collective with a dead peer, and joining them at exit could wait out the timeout.
std::shared_ptr<Distributed> make_distributed(std::shared_ptr<Rendezvous> rendezvous, const torch::Device& device);

// Which collective backends this build has: "gloo", "gloo,nccl", or "" (none).
std::string distributed_backends();

}  // namespace wmnn
