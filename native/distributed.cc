#include "distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef WMNN_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef WMNN_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

namespace wmnn {
namespace {
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// DDP's defaults: a small first bucket so the first all-reduce starts early in the backward pass,
// then 25 MiB buckets (fewer, larger messages).
constexpr int64_t kFirstBucketBytes = 1 << 20;
constexpr int64_t kBucketBytes = 25 << 20;
// How often the rendezvous looks at the store while waiting for the other ranks.
constexpr milliseconds kPoll{50};
// How long rank 0 keeps the store up after a failed join, so the others read why.
constexpr milliseconds kAbortLinger{1500};
// After a failed collective, how long a rank waits for the others to report it too.
constexpr milliseconds kCensusGrace{5000};
// Three float32 metrics ride in the first bucket: images, summed loss, correct predictions.
constexpr int64_t kStats = 3;

const std::string kJoin = "wmnn/join/", kAbort = "wmnn/abort", kShare = "wmnn/share/", kFault = "wmnn/fault/";

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
std::string string_of(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::string seconds(milliseconds t) {
  std::ostringstream s;
  s << t.count() / 1000.0 << " s";
  return s.str();
}

// The first argument where two command lines differ, as "`a` vs `b`".
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string x, y;
  while (true) {
    bool more_a = static_cast<bool>(sa >> x), more_b = static_cast<bool>(sb >> y);
    if (!more_a && !more_b) return "";
    if (!more_a) x = "(end)";
    if (!more_b) y = "(end)";
    if (x != y || !more_a || !more_b) return "`" + x + "` vs `" + y + "`";
  }
}

std::string list_ranks(const std::vector<int>& ranks) {
  std::ostringstream s;
  for (size_t i = 0; i < ranks.size(); ++i) s << (i ? ", " : "") << ranks[i];
  return s.str();
}

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }
}  // namespace

// --- rendezvous ------------------------------------------------------------------------------

Rendezvous::Rendezvous(const RendezvousOptions& opts) : opts_(opts) {
  TORCH_CHECK(opts_.world_size >= 1, "WORLD_SIZE must be at least 1, got ", opts_.world_size);
  TORCH_CHECK(opts_.rank >= 0 && opts_.rank < opts_.world_size, "RANK ", opts_.rank, " is not below WORLD_SIZE ",
              opts_.world_size);
  TORCH_CHECK(opts_.master_port > 0 && opts_.master_port < 65536, "MASTER_PORT ", opts_.master_port,
              " is not a TCP port");
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(opts_.master_port);
  so.isServer = opts_.rank == 0;
  so.numWorkers = opts_.world_size;
  so.waitWorkers = false;  // join() waits, and says which ranks are missing
  so.timeout = opts_.timeout;
  try {
    store_ = c10::make_intrusive<c10d::TCPStore>(opts_.master_addr, so);
  } catch (const std::exception& e) {
    const std::string why = e.what();
    const std::string first_line = why.substr(0, why.find('\n'));
    if (opts_.rank == 0) {
      TORCH_CHECK(false, "rank 0 cannot serve the rendezvous on port ", opts_.master_port,
                  " (MASTER_PORT): ", first_line);
    }
    TORCH_CHECK(false, "rank ", opts_.rank, " found no rendezvous at ", where(), " within ", seconds(opts_.timeout),
                ": is rank 0 running, and can this machine reach MASTER_ADDR? (", first_line, ")");
  }
  join();
}

std::string Rendezvous::where() const { return opts_.master_addr + ":" + std::to_string(opts_.master_port); }

void Rendezvous::abort_join(const std::string& message) {
  if (opts_.rank == 0) {
    // The others read the reason from the store rank 0 holds; keep it up a moment.
    try {
      store_->set(kAbort, bytes_of(message));
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(kAbortLinger);
  }
  TORCH_CHECK(false, message);
}

void Rendezvous::join() {
  const int n = opts_.world_size;
  const std::string mine = std::to_string(n) + "\n" + opts_.fingerprint;
  store_->set(kJoin + std::to_string(opts_.rank), bytes_of(mine));
  std::vector<bool> seen(n, false);
  const auto deadline = Clock::now() + opts_.timeout;
  try {
    while (true) {
      if (store_->check({kAbort})) TORCH_CHECK(false, string_of(store_->get(kAbort)));
      bool all = true;
      for (int k = 0; k < n; ++k) {
        if (seen[k]) continue;
        const std::string key = kJoin + std::to_string(k);
        if (!store_->check({key})) {
          all = false;
          continue;
        }
        seen[k] = true;
        const std::string theirs = string_of(store_->get(key));
        const auto nl = theirs.find('\n');
        const std::string their_world = theirs.substr(0, nl),
                          their_print = nl == std::string::npos ? "" : theirs.substr(nl + 1);
        if (their_world != std::to_string(n)) {
          abort_join("rank " + std::to_string(k) + " was started with WORLD_SIZE=" + their_world + ", rank " +
                     std::to_string(opts_.rank) + " with WORLD_SIZE=" + std::to_string(n) +
                     ": every rank needs the same world size");
        }
        if (their_print != opts_.fingerprint) {
          abort_join("rank " + std::to_string(k) + " runs other arguments than rank " + std::to_string(opts_.rank) +
                     " (" + first_difference(their_print, opts_.fingerprint) +
                     "): every rank must run the same command");
        }
      }
      if (all) return;
      if (Clock::now() > deadline) {
        std::vector<int> missing;
        for (int k = 0; k < n; ++k) {
          if (!seen[k]) missing.push_back(k);
        }
        abort_join("rank(s) " + list_ranks(missing) + " did not join the rendezvous at " + where() + " within " +
                   seconds(opts_.timeout) + " (WORLD_SIZE=" + std::to_string(n) + ")");
      }
      std::this_thread::sleep_for(kPoll);
    }
  } catch (const c10::Error&) {
    throw;
  } catch (const std::exception& e) {
    // The store went away under us: rank 0 ended before everyone had joined.
    TORCH_CHECK(false, "rank ", opts_.rank, " lost the rendezvous at ", where(),
                " before every rank had joined (rank 0 ended?): ", e.what());
  }
}

int64_t Rendezvous::share(int64_t value) {
  const std::string key = kShare + std::to_string(shared_++);
  if (opts_.rank == 0) store_->set(key, bytes_of(std::to_string(value)));
  return std::stoll(string_of(store_->get(key)));
}

std::string Rendezvous::census() {
  if (census_taken_ || opts_.world_size < 2) return "";
  census_taken_ = true;
  const auto grace = std::min(kCensusGrace, opts_.timeout);
  try {
    store_->setTimeout(grace);
    store_->set(kFault + std::to_string(opts_.rank), bytes_of("1"));
    const auto deadline = Clock::now() + grace;
    std::vector<int> silent;
    do {
      silent.clear();
      for (int k = 0; k < opts_.world_size; ++k) {
        if (k != opts_.rank && !store_->check({kFault + std::to_string(k)})) silent.push_back(k);
      }
      if (silent.empty()) return "";
      std::this_thread::sleep_for(kPoll);
    } while (Clock::now() < deadline);
    return "no answer from rank " + list_ranks(silent) + " within " + seconds(grace) + " (it died or hangs)";
  } catch (const std::exception&) {
    return "rank 0, which holds the rendezvous at " + where() + ", is gone";
  }
}

// --- the collective backend and the gradient buckets -----------------------------------------

struct Distributed::Buckets {
  struct Bucket {
    torch::Tensor flat;            // float32 on the device: the gradients (+ stats in bucket 0)
    std::vector<size_t> params;    // indices into params_
    std::vector<int64_t> offsets;  // each one's place in `flat`
    size_t pending = 0;            // gradients still to come this step
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  std::vector<int> bucket_of, slot_of;  // per parameter; -1: frozen, not in any bucket
  std::vector<bool> filled;             // per parameter, this step
  std::vector<bool> layout_for;         // requires_grad of each parameter when the layout was built
  size_t next_launch = 0;
  bool active = false;
  std::mutex mutex;  // hooks of different devices' autograd threads (one device here, but cheap)
};

Distributed::Distributed(std::shared_ptr<Rendezvous> rendezvous, const torch::Device& device)
    : rendezvous_(std::move(rendezvous)), device_(device), buckets_(std::make_unique<Buckets>()) {
  const auto timeout = rendezvous_->timeout();
  const int rank = rendezvous_->rank(), size = rendezvous_->world_size();
  if (device_.is_cuda()) {
#ifdef WMNN_NCCL
    // Without async error handling a dead peer leaves NCCL waiting forever.
    setenv("NCCL_ASYNC_ERROR_HANDLING", "1", /*overwrite=*/0);
    setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", 0);
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = timeout;
    group_ = c10::make_intrusive<c10d::ProcessGroupNCCL>(
        c10::make_intrusive<c10d::PrefixStore>("nccl", rendezvous_->store()), rank, size, o);
    backend_name_ = "nccl";
#else
    TORCH_CHECK(false,
                "this build of wmnn has no NCCL, so CUDA ranks cannot communicate; rebuild against a CUDA "
                "libtorch with NCCL's headers (see README, 'Multi-GPU and multi-node'), or use --device cpu");
#endif
  } else {
#ifdef WMNN_GLOO
    auto o = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname && *ifname) {
      std::istringstream names(ifname);
      for (std::string name; std::getline(names, name, ',');) {
        o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
      }
    } else {
      // Name resolution of the host may give an address the others cannot reach from a loopback
      // rendezvous (one machine); there, talk over loopback too.
      const char* addr = std::getenv("MASTER_ADDR");
      o->devices.push_back(addr && is_loopback(addr) ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                                     : c10d::ProcessGroupGloo::createDefaultDevice());
    }
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo", rendezvous_->store()), rank, size, o);
    backend_name_ = "gloo";
#else
    TORCH_CHECK(false,
                "this build of wmnn has no Gloo, so CPU ranks cannot communicate; install libgloo-dev and "
                "rebuild (npm run setup)");
#endif
  }
}

template <typename F>
auto Distributed::collective(const char* what, F&& f) -> decltype(f()) {
  TORCH_CHECK(failed_.empty(), failed_);
  struct Timer {  // adds the call's time to blocked_ns_ on every way out
    std::atomic<int64_t>& into;
    Clock::time_point t0 = Clock::now();
    ~Timer() { into += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(); }
  } timer{blocked_ns_};
  try {
    return f();
  } catch (const std::exception& e) {
    std::string why = e.what();
    if (auto* c10 = dynamic_cast<const c10::Error*>(&e)) why = c10->msg();
    why = why.substr(0, why.find('\n'));
    const std::string who = rendezvous_->census();
    failed_ = "rank " + std::to_string(rank()) + ": " + what + " failed" + (who.empty() ? "" : ": " + who) + " [" +
              backend_name_ + ": " + why + "]";
    buckets_->active = false;
    TORCH_CHECK(false, failed_);
  }
}

void Distributed::broadcast_flat(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& t : tensors) flat_parts.push_back(t.detach().reshape({-1}).to(torch::kFloat64));
  std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
  collective("broadcast from rank 0", [&] { group_->broadcast(flat)->wait(); });
  if (rank() == 0) return;
  int64_t at = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.detach().copy_(flat[0].narrow(0, at, n).view(t.sizes()));  // exact: float32 and int64 counters fit float64
    at += n;
  }
}

void Distributed::attach(const std::vector<StateEntry>& entries) {
  TORCH_CHECK(params_.empty() && buffers_.empty(), "this model is already part of a process group");
  for (const auto& e : entries) (e.is_parameter ? params_ : buffers_).push_back(e.tensor);
  for (const auto& p : params_) {
    TORCH_CHECK(p.scalar_type() == torch::kFloat32, "data-parallel training needs float32 parameters");
  }
  // The parameters one at a time: a float64 copy of all of them at once would double the model.
  for (const auto& p : params_) broadcast_flat({p});
  broadcast_flat(buffers_);
  // Engines are never freed while their process group lives (make_distributed), so `this` stays
  // valid for these hooks.
  for (size_t i = 0; i < params_.size(); ++i) {
    params_[i].register_hook([this, i](const torch::Tensor& grad) { on_grad(i, grad); });
  }
}

void Distributed::sync_buffers() {
  broadcast_flat(buffers_);
  buffers_stale_ = true;  // the forward that follows updates them on each rank
}

void Distributed::refresh_buffers() {
  if (!buffers_stale_) return;
  broadcast_flat(buffers_);
  buffers_stale_ = false;
}

// Buckets over the parameters that take gradients now, in reverse order (about the order
// backward produces them, as DDP assumes); rebuilt when fine-tuning freezes or thaws layers.
void Distributed::build_layout() {
  auto& b = *buckets_;
  std::vector<bool> trainable;
  for (const auto& p : params_) trainable.push_back(p.requires_grad());
  if (!b.buckets.empty() && trainable == b.layout_for) return;
  b.layout_for = trainable;
  b.buckets.clear();
  b.bucket_of.assign(params_.size(), -1);
  b.slot_of.assign(params_.size(), -1);
  std::vector<std::vector<size_t>> groups(1);
  int64_t bytes = 0;
  for (size_t j = params_.size(); j-- > 0;) {
    if (!trainable[j]) continue;
    const int64_t size = params_[j].numel() * static_cast<int64_t>(sizeof(float));
    const int64_t cap = groups.size() == 1 ? kFirstBucketBytes : kBucketBytes;
    if (!groups.back().empty() && bytes + size > cap) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(j);
    bytes += size;
  }
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  for (size_t k = 0; k < groups.size(); ++k) {
    Buckets::Bucket bucket;
    int64_t at = k == 0 ? kStats : 0;
    for (size_t j : groups[k]) {
      b.bucket_of[j] = static_cast<int>(k);
      b.slot_of[j] = static_cast<int>(bucket.params.size());
      bucket.params.push_back(j);
      bucket.offsets.push_back(at);
      at += params_[j].numel();
    }
    bucket.flat = torch::zeros({at}, f32);
    b.buckets.push_back(std::move(bucket));
  }
}

void Distributed::begin_step(const torch::Tensor& loss_sum, const torch::Tensor& correct, int64_t count) {
  TORCH_CHECK(failed_.empty(), failed_);
  build_layout();
  auto& b = *buckets_;
  b.filled.assign(params_.size(), false);
  for (auto& bucket : b.buckets) {
    bucket.pending = bucket.params.size();
    bucket.work.reset();
  }
  b.next_launch = 0;
  auto stats = b.buckets[0].flat.narrow(0, 0, kStats);
  if (count > 0) {
    stats[0].fill_(static_cast<double>(count));
    stats[1].copy_(loss_sum.detach());
    stats[2].copy_(correct);
  } else {
    stats.zero_();
  }
  b.active = true;
}

void Distributed::launch(size_t k) {
  auto& bucket = buckets_->buckets[k];
  // A gradient that never came (a rank without images this step) counts as zero.
  for (size_t s = 0; s < bucket.params.size(); ++s) {
    const size_t j = bucket.params[s];
    if (!buckets_->filled[j]) bucket.flat.narrow(0, bucket.offsets[s], params_[j].numel()).zero_();
  }
  std::vector<torch::Tensor> tensors{bucket.flat};
  bucket.work = collective("gradient all-reduce", [&] { return group_->allreduce(tensors); });
}

// An autograd hook: runs as the gradient of parameter `j` is computed, before it is accumulated.
void Distributed::on_grad(size_t j, const torch::Tensor& grad) {
  auto& b = *buckets_;
  std::lock_guard<std::mutex> lock(b.mutex);
  if (!b.active || b.bucket_of[j] < 0 || b.filled[j]) return;
  auto& bucket = b.buckets[b.bucket_of[j]];
  const int s = b.slot_of[j];
  bucket.flat.narrow(0, bucket.offsets[s], params_[j].numel()).view(params_[j].sizes()).copy_(grad);
  b.filled[j] = true;
  bucket.pending -= 1;
  // Launch in bucket order on every rank, so the ranks' collectives pair up.
  while (b.next_launch < b.buckets.size() && b.buckets[b.next_launch].pending == 0) launch(b.next_launch++);
}

StepTotals Distributed::totals_of(const torch::Tensor& stats) const {
  auto s = stats.to(torch::kFloat64);
  auto count = s[0];
  return {s[1] / count.clamp_min(1), s[2].round().to(torch::kInt64), count.round().to(torch::kInt64)};
}

StepTotals Distributed::end_step() {
  auto& b = *buckets_;
  {
    std::lock_guard<std::mutex> lock(b.mutex);
    TORCH_CHECK(b.active, "end_step without begin_step");
    while (b.next_launch < b.buckets.size()) launch(b.next_launch++);
    b.active = false;
  }
  for (auto& bucket : b.buckets) collective("gradient all-reduce", [&] { bucket.work->wait(); });
  auto stats = b.buckets[0].flat.narrow(0, 0, kStats);
  auto count = stats[0].clamp_min(1);
  torch::NoGradGuard no_grad;
  for (auto& bucket : b.buckets) {
    for (size_t s = 0; s < bucket.params.size(); ++s) {
      auto& p = params_[bucket.params[s]];
      auto mean = bucket.flat.narrow(0, bucket.offsets[s], p.numel()).view(p.sizes()).div(count);
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = torch::empty_like(p).copy_(mean);
      }
    }
  }
  return totals_of(stats);
}

StepTotals Distributed::reduce(const torch::Tensor& loss_sum, const torch::Tensor& correct, int64_t count) {
  auto stats = torch::zeros({kStats}, torch::TensorOptions().dtype(torch::kFloat32).device(device_));
  if (count > 0) {
    stats[0].fill_(static_cast<double>(count));
    stats[1].copy_(loss_sum.detach());
    stats[2].copy_(correct);
  }
  std::vector<torch::Tensor> tensors{stats};
  collective("metrics all-reduce", [&] { group_->allreduce(tensors)->wait(); });
  return totals_of(stats);
}

bool Distributed::any(bool flag) {
  std::vector<torch::Tensor> t{
      torch::full({1}, flag ? 1 : 0, torch::TensorOptions().dtype(torch::kInt32).device(device_))};
  collective("stop agreement", [&] { group_->allreduce(t)->wait(); });
  return t[0].item<int>() > 0;
}

double Distributed::take_blocked_seconds() { return static_cast<double>(blocked_ns_.exchange(0)) * 1e-9; }

std::shared_ptr<Distributed> make_distributed(std::shared_ptr<Rendezvous> rendezvous, const torch::Device& device) {
  static auto* alive = new std::vector<std::shared_ptr<Distributed>>();  // never freed, see the header
  auto d = std::make_shared<Distributed>(std::move(rendezvous), device);
  alive->push_back(d);
  return d;
}

std::string distributed_backends() {
  std::string out;
#ifdef WMNN_GLOO
  out += "gloo";
#endif
#ifdef WMNN_NCCL
  out += out.empty() ? "nccl" : ",nccl";
#endif
  return out;
}

}  // namespace wmnn
