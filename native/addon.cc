// Registers the addon's JavaScript surface; the work itself lives in engine/data/model. The image
// codecs are an addon of their own (native/image), which loads without libtorch.
#include <napi.h>

#include "attacks.h"
#include "convert.h"
#include "distributed.h"
#include "engine.h"
#include "hardware.h"

namespace wmnn {
namespace {

int64_t int_arg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }

// new ProcessGroup({masterAddr, masterPort, rank, worldSize, timeoutMs, fingerprint}): joins the
// job (blocks until every rank is there, or throws one line saying why not).
class GroupWrap : public Napi::ObjectWrap<GroupWrap> {
 public:
  // The class, per environment: the addon is loaded by the main thread and by the engine
  // preload's worker thread, and a reference from one environment is not valid in another.
  struct Class {
    Napi::FunctionReference ref;
  };

  static Napi::Function Define(Napi::Env env) {
    auto f = DefineClass(env, "ProcessGroup",
                         {
                             InstanceMethod("describe", &GroupWrap::Describe),
                             InstanceMethod("share", &GroupWrap::Share),
                         });
    env.SetInstanceData(new Class{Napi::Persistent(f)});
    return f;
  }

  static bool Is(Napi::Env env, const Napi::Value& v) {
    return v.IsObject() && v.As<Napi::Object>().InstanceOf(env.GetInstanceData<Class>()->ref.Value());
  }

  explicit GroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GroupWrap>(info) {
    auto o = info[0].As<Napi::Object>();
    RendezvousOptions opts;
    opts.master_addr = o.Get("masterAddr").As<Napi::String>().Utf8Value();
    opts.master_port = o.Get("masterPort").As<Napi::Number>().Int32Value();
    opts.rank = o.Get("rank").As<Napi::Number>().Int32Value();
    opts.world_size = o.Get("worldSize").As<Napi::Number>().Int32Value();
    opts.timeout = std::chrono::milliseconds(o.Get("timeoutMs").As<Napi::Number>().Int64Value());
    opts.fingerprint = o.Get("fingerprint").As<Napi::String>().Utf8Value();
    rendezvous_ = guarded(info.Env(), [&] { return std::make_shared<Rendezvous>(opts); });
  }

  const std::shared_ptr<Rendezvous>& rendezvous() const { return rendezvous_; }

 private:
  Napi::Value Describe(const Napi::CallbackInfo& info) {
    auto o = Napi::Object::New(info.Env());
    o.Set("rank", rendezvous_->rank());
    o.Set("worldSize", rendezvous_->world_size());
    return o;
  }
  // share(value): rank 0's value on every rank
  Napi::Value Share(const Napi::CallbackInfo& info) {
    auto v = int_arg(info, 0);
    return Napi::Number::New(info.Env(),
                             static_cast<double>(guarded(info.Env(), [&] { return rendezvous_->share(v); })));
  }

  std::shared_ptr<Rendezvous> rendezvous_;
};

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("describe", &EngineWrap::Describe),
                           InstanceMethod("tensors", &EngineWrap::Tensors),
                           InstanceMethod("read", &EngineWrap::Read),
                           InstanceMethod("write", &EngineWrap::Write),
                           InstanceMethod("readMomentum", &EngineWrap::ReadMomentum),
                           InstanceMethod("writeMomentum", &EngineWrap::WriteMomentum),
                           InstanceMethod("clearMomentum", &EngineWrap::ClearMomentum),
                           InstanceMethod("setSgd", &EngineWrap::SetSgd),
                           InstanceMethod("setTrainOnlyLinear", &EngineWrap::SetTrainOnlyLinear),
                           InstanceMethod("reinitLinear", &EngineWrap::ReinitLinear),
                           InstanceMethod("stashLinear", &EngineWrap::StashLinear),
                           InstanceMethod("swapLinear", &EngineWrap::SwapLinear),
                           InstanceMethod("setLabelSmoothing", &EngineWrap::SetLabelSmoothing),
                           InstanceMethod("setSoftTargets", &EngineWrap::SetSoftTargets),
                           InstanceMethod("setMask", &EngineWrap::SetMask),
                           InstanceMethod("clearMasks", &EngineWrap::ClearMasks),
                           InstanceMethod("channelMeans", &EngineWrap::ChannelMeans),
                           InstanceMethod("upload", &EngineWrap::Upload),
                           InstanceMethod("drop", &EngineWrap::Drop),
                           InstanceMethod("newEpoch", &EngineWrap::NewEpoch),
                           InstanceMethod("peekBatch", &EngineWrap::PeekBatch),
                           InstanceMethod("trainStep", &EngineWrap::TrainStep),
                           InstanceMethod("evalStep", &EngineWrap::EvalStep),
                           InstanceMethod("takeMetrics", &EngineWrap::TakeMetrics),
                           InstanceMethod("takeOutputs", &EngineWrap::TakeOutputs),
                           InstanceMethod("forward", &EngineWrap::Forward),
                           InstanceMethod("joinGroup", &EngineWrap::JoinGroup),
                           InstanceMethod("anyRank", &EngineWrap::AnyRank),
                           InstanceMethod("takeCommunicationSeconds", &EngineWrap::TakeCommunicationSeconds),
                           InstanceMethod("release", &EngineWrap::Release),
                       });
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    auto o = info[0].As<Napi::Object>();
    EngineOptions opts;
    opts.num_classes = o.Get("numClasses").As<Napi::Number>().Int64Value();
    opts.device = o.Get("device").As<Napi::String>().Utf8Value();
    opts.seed = static_cast<uint64_t>(o.Get("seed").As<Napi::Number>().Int64Value());
    opts.threads = o.Get("threads").As<Napi::Number>().Int32Value();
    opts.channels_last = o.Get("channelsLast").As<Napi::Boolean>().Value();
    opts.amp = o.Get("amp").As<Napi::String>().Utf8Value();
    if (o.Has("init")) opts.init = o.Get("init").As<Napi::Boolean>().Value();
    engine_ = guarded(info.Env(), [&] { return std::make_shared<Engine>(opts); });
  }

 private:
  // The engine, unless release() freed it.
  Engine& live(const Napi::CallbackInfo& info) {
    if (!engine_) throw Napi::Error::New(info.Env(), "this model was released");
    return *engine_;
  }
  // Synchronous calls share the engine lock with the worker-thread calls.
  template <typename F>
  auto sync(const Napi::CallbackInfo& info, F&& f) -> decltype(f()) {
    std::lock_guard<std::mutex> lock(live(info).mutex());
    engine_->enter_thread();
    return guarded(info.Env(), std::forward<F>(f));
  }
  // Worker-thread calls: `work` runs under the lock off the JavaScript thread. The task holds the
  // engine, so a release() meanwhile frees it only after the task.
  Napi::Promise async(const Napi::CallbackInfo& info, Task::Work work) {
    std::shared_ptr<Engine> e = engine_;
    return Task::Run(info.Env(), info.This().As<Napi::Object>(), [e, work = std::move(work)]() {
      std::lock_guard<std::mutex> lock(e->mutex());
      e->enter_thread();
      return work();
    });
  }

  // release(): frees the model and its datasets now (after any call in flight), rather than
  // whenever the garbage collector finds the object; later calls throw.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    if (engine_) {
      { std::lock_guard<std::mutex> lock(engine_->mutex()); }
      engine_.reset();
    }
    return info.Env().Undefined();
  }

  Napi::Value Describe(const Napi::CallbackInfo& info) {
    live(info);
    auto o = Napi::Object::New(info.Env());
    o.Set("device", engine_->device().str());
    o.Set("threads", engine_->threads());
    o.Set("numClasses", static_cast<double>(engine_->num_classes()));
    o.Set("channelsLast", engine_->channels_last());
    o.Set("amp", engine_->amp());
    return o;
  }

  Napi::Value Tensors(const Napi::CallbackInfo& info) {
    return sync(info, [&] {
      auto env = info.Env();
      const auto& entries = engine_->entries();
      auto arr = Napi::Array::New(env, entries.size());
      for (size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        auto o = Napi::Object::New(env);
        o.Set("name", e.name);
        o.Set("shape", shape_to_js(env, e.tensor.sizes()));
        o.Set("dtype", dtype_name(e.tensor.scalar_type()));
        o.Set("kind", e.is_parameter ? "parameter" : "buffer");
        o.Set("requiresGrad", e.tensor.requires_grad());
        arr.Set(i, o);
      }
      return arr;
    });
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    auto name = info[0].As<Napi::String>().Utf8Value();
    return sync(info, [&] { return tensor_to_js(info.Env(), engine_->read(name)); });
  }
  Napi::Value Write(const Napi::CallbackInfo& info) {
    auto name = info[0].As<Napi::String>().Utf8Value();
    auto value = tensor_view_from_js(info[1]);  // copied by the engine under the lock
    sync(info, [&] { engine_->write(name, value); });
    return info.Env().Undefined();
  }
  Napi::Value ReadMomentum(const Napi::CallbackInfo& info) {
    auto name = info[0].As<Napi::String>().Utf8Value();
    return sync(info, [&]() -> Napi::Value {
      auto m = engine_->read_momentum(name);
      return m ? Napi::Value(tensor_to_js(info.Env(), *m)) : info.Env().Null();
    });
  }
  Napi::Value WriteMomentum(const Napi::CallbackInfo& info) {
    auto name = info[0].As<Napi::String>().Utf8Value();
    auto value = tensor_view_from_js(info[1]);  // copied by the engine under the lock
    sync(info, [&] { engine_->write_momentum(name, value); });
    return info.Env().Undefined();
  }
  Napi::Value ClearMomentum(const Napi::CallbackInfo& info) {
    sync(info, [&] { engine_->clear_momentum(); });
    return info.Env().Undefined();
  }
  Napi::Value SetSgd(const Napi::CallbackInfo& info) {
    auto o = info[0].As<Napi::Object>();
    SgdOptions s;
    s.lr = o.Get("lr").As<Napi::Number>().DoubleValue();
    s.momentum = o.Get("momentum").As<Napi::Number>().DoubleValue();
    s.weight_decay = o.Get("weightDecay").As<Napi::Number>().DoubleValue();
    sync(info, [&] { engine_->set_sgd(s); });
    return info.Env().Undefined();
  }
  Napi::Value SetTrainOnlyLinear(const Napi::CallbackInfo& info) {
    bool only = info[0].As<Napi::Boolean>().Value();
    sync(info, [&] { engine_->set_train_only_linear(only); });
    return info.Env().Undefined();
  }
  Napi::Value ReinitLinear(const Napi::CallbackInfo& info) {
    auto seed = static_cast<uint64_t>(int_arg(info, 0));
    sync(info, [&] { engine_->reinit_linear(seed); });
    return info.Env().Undefined();
  }
  Napi::Value StashLinear(const Napi::CallbackInfo& info) {
    sync(info, [&] { engine_->stash_linear(); });
    return info.Env().Undefined();
  }
  Napi::Value SwapLinear(const Napi::CallbackInfo& info) {
    sync(info, [&] { engine_->swap_linear(); });
    return info.Env().Undefined();
  }

  Napi::Value SetLabelSmoothing(const Napi::CallbackInfo& info) {
    double eps = info[0].As<Napi::Number>().DoubleValue();
    sync(info, [&] { engine_->set_label_smoothing(eps); });
    return info.Env().Undefined();
  }
  // setSoftTargets(data, teacherLogits: Float32Array (N*C) | null, temperature)
  Napi::Value SetSoftTargets(const Napi::CallbackInfo& info) {
    int data = static_cast<int>(int_arg(info, 0));
    double t = info[2].As<Napi::Number>().DoubleValue();
    torch::Tensor logits;
    if (!info[1].IsNull()) {
      auto arr = info[1].As<Napi::TypedArray>();
      const int64_t c = engine_->num_classes();
      logits = tensor_from_typed_array(arr, {static_cast<int64_t>(arr.ElementLength()) / c, c});
    }
    sync(info, [&] { engine_->set_soft_targets(data, logits, t); });
    return info.Env().Undefined();
  }
  // setMask(name, mask: {dtype, shape, data} as read() returns)
  Napi::Value SetMask(const Napi::CallbackInfo& info) {
    auto name = info[0].As<Napi::String>().Utf8Value();
    auto mask = tensor_view_from_js(info[1]).clone();  // kept by the engine past the call
    sync(info, [&] { engine_->set_mask(name, mask); });
    return info.Env().Undefined();
  }
  Napi::Value ClearMasks(const Napi::CallbackInfo& info) {
    sync(info, [&] { engine_->clear_masks(); });
    return info.Env().Undefined();
  }
  // channelMeans(data, batch): Promise<{dtype, shape, data}> (float32, 2 x channels: mean, mean |a|)
  Napi::Value ChannelMeans(const Napi::CallbackInfo& info) {
    int data = static_cast<int>(int_arg(info, 0));
    int64_t batch = int_arg(info, 1);
    Engine* e = engine_.get();
    return async(info, [=]() -> Task::Finish {
      auto means = e->channel_means(data, batch);
      return [means](Napi::Env env) -> Napi::Value { return tensor_to_js(env, means); };
    });
  }

  // upload(images: Uint8Array (N*3*32*32), labels: Int32Array (N), mean, std: Float32Array (3)) -> dataset id
  Napi::Value Upload(const Napi::CallbackInfo& info) {
    auto labels_arr = info[1].As<Napi::TypedArray>();
    const int64_t n = static_cast<int64_t>(labels_arr.ElementLength());
    auto images = tensor_from_typed_array(info[0].As<Napi::TypedArray>(), {n, 3, 32, 32});
    auto labels = tensor_from_typed_array(labels_arr, {n});
    auto mean = tensor_from_typed_array(info[2].As<Napi::TypedArray>(), {3});
    auto std = tensor_from_typed_array(info[3].As<Napi::TypedArray>(), {3});
    return Napi::Number::New(info.Env(), sync(info, [&] { return engine_->upload(images, labels, mean, std); }));
  }
  // drop(data): frees an uploaded dataset
  Napi::Value Drop(const Napi::CallbackInfo& info) {
    int id = static_cast<int>(int_arg(info, 0));
    sync(info, [&] { engine_->drop(id); });
    return info.Env().Undefined();
  }
  Napi::Value NewEpoch(const Napi::CallbackInfo& info) {
    int id = static_cast<int>(int_arg(info, 0));
    bool shuffle = info[1].As<Napi::Boolean>().Value(), augment = info[2].As<Napi::Boolean>().Value();
    auto seed = static_cast<uint64_t>(int_arg(info, 3));
    sync(info, [&] { engine_->dataset(id).new_epoch(shuffle, augment, seed); });
    return info.Env().Undefined();
  }

  // peekBatch(data, start, count) -> { images, labels }: the batch a step would see (tests, tools)
  Napi::Value PeekBatch(const Napi::CallbackInfo& info) {
    int id = static_cast<int>(int_arg(info, 0));
    int64_t start = int_arg(info, 1), count = int_arg(info, 2);
    return sync(info, [&] {
      auto b = engine_->dataset(id).batch(start, count);
      auto o = Napi::Object::New(info.Env());
      o.Set("images", tensor_to_js(info.Env(), b.images));
      o.Set("labels", tensor_to_js(info.Env(), b.labels.to(torch::kInt32)));
      return o;
    });
  }

  // trainStep(data, start, count, wm, wmStart, wmCount): Promise<void>
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    int data = static_cast<int>(int_arg(info, 0)), wm = static_cast<int>(int_arg(info, 3));
    int64_t start = int_arg(info, 1), count = int_arg(info, 2), wm_start = int_arg(info, 4),
            wm_count = int_arg(info, 5);
    Engine* e = &live(info);
    return async(info, [=]() -> Task::Finish {
      e->train_step(data, start, count, wm, wm_start, wm_count);
      return nullptr;
    });
  }
  // evalStep(data, start, count, keepOutputs): Promise<void>
  Napi::Value EvalStep(const Napi::CallbackInfo& info) {
    int data = static_cast<int>(int_arg(info, 0));
    int64_t start = int_arg(info, 1), count = int_arg(info, 2);
    bool keep = info[3].As<Napi::Boolean>().Value();
    Engine* e = &live(info);
    return async(info, [=]() -> Task::Finish {
      e->eval_step(data, start, count, keep);
      return nullptr;
    });
  }
  Napi::Value TakeMetrics(const Napi::CallbackInfo& info) {
    auto m = sync(info, [&] { return engine_->take_metrics(); });
    auto o = Napi::Object::New(info.Env());
    o.Set("lossSum", m.loss_sum);
    o.Set("steps", static_cast<double>(m.steps));
    o.Set("correct", static_cast<double>(m.correct));
    o.Set("total", static_cast<double>(m.total));
    return o;
  }
  Napi::Value TakeOutputs(const Napi::CallbackInfo& info) {
    return sync(info, [&] {
      auto out = engine_->take_outputs();
      auto o = Napi::Object::New(info.Env());
      o.Set("logits", tensor_to_js(info.Env(), out.logits));
      o.Set("predictions", tensor_to_js(info.Env(), out.predictions.to(torch::kInt32)));
      return o;
    });
  }
  // forward(images: Float32Array (N*3*32*32), n, train): Promise<{dtype, shape, data}>
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    const int64_t n = int_arg(info, 1);
    auto x = tensor_from_typed_array(info[0].As<Napi::TypedArray>(), {n, 3, 32, 32});
    bool train = info[2].As<Napi::Boolean>().Value();
    Engine* e = &live(info);
    return async(info, [=]() -> Task::Finish {
      auto logits = e->forward(x, train);
      return [logits](Napi::Env env) -> Napi::Value { return tensor_to_js(env, logits); };
    });
  }

  // joinGroup(group: ProcessGroup): rank 0's weights here, gradients averaged from now on
  Napi::Value JoinGroup(const Napi::CallbackInfo& info) {
    if (!GroupWrap::Is(info.Env(), info[0])) {
      throw Napi::TypeError::New(info.Env(), "joinGroup needs a ProcessGroup");
    }
    auto rendezvous = GroupWrap::Unwrap(info[0].As<Napi::Object>())->rendezvous();
    sync(info, [&] { engine_->join(rendezvous); });
    return info.Env().Undefined();
  }
  Napi::Value AnyRank(const Napi::CallbackInfo& info) {
    bool flag = info[0].As<Napi::Boolean>().Value();
    return Napi::Boolean::New(info.Env(), sync(info, [&] { return engine_->any_rank(flag); }));
  }

  Napi::Value TakeCommunicationSeconds(const Napi::CallbackInfo& info) {
    auto s = sync(info, [&] { return engine_->take_communication_seconds(); });
    return s ? Napi::Number::New(info.Env(), *s) : info.Env().Null();
  }

  std::shared_ptr<Engine> engine_;
};

Napi::Value BuildInfoJs(const Napi::CallbackInfo& info) {
  auto b = build_info();
  auto o = Napi::Object::New(info.Env());
  o.Set("torchVersion", b.torch_version);
  o.Set("torchSource", b.torch_source);
  o.Set("torchDir", b.torch_dir);
  o.Set("cudaCompiled", b.cuda_compiled);
  o.Set("cudaAvailable", b.cuda_available);
  o.Set("cudaDevices", b.cuda_devices);
  o.Set("parallel", b.parallel);
  o.Set("distributed", distributed_backends());
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

// hardware(cudaIndex) -> what the CPU (and CUDA device cudaIndex, if any) runs natively.
Napi::Value HardwareJs(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    const auto f = cpu_features();
    auto env = info.Env();
    auto cpu = Napi::Object::New(env);
    cpu.Set("model", f.model);
    cpu.Set("avx2", f.avx2);
    cpu.Set("avx512f", f.avx512f && f.os_avx512);
    cpu.Set("avx512Bf16", f.avx512_bf16 && f.os_avx512);
    cpu.Set("amxBf16", f.amx_bf16 && f.os_amx);
    auto o = Napi::Object::New(env);
    o.Set("cpu", cpu);
    o.Set("cudaBf16", cuda_native_bf16(static_cast<int>(int_arg(info, 0))));
    return Napi::Value(o);
  });
}

// resolveDevice(spec) -> the device `spec` (auto, cpu, cuda, cuda:N) means here, e.g. "cuda:0".
Napi::Value ResolveDeviceJs(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    return Napi::Value(Napi::String::New(info.Env(), resolve_device(info[0].As<Napi::String>().Utf8Value()).str()));
  });
}

// augment(images: Uint8Array (N*3*32*32), dx, dy, flip: Int32Array (N), mean, std: Float32Array (3))
// -> normalised float32 tensor: the training transform with given draws, so tests can compare it
// with torchvision.
Napi::Value AugmentJs(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    auto dx_arr = info[1].As<Napi::TypedArray>();
    const int64_t n = static_cast<int64_t>(dx_arr.ElementLength());
    auto images = tensor_from_typed_array(info[0].As<Napi::TypedArray>(), {n, 3, 32, 32});
    auto as_long = [&](size_t i) {
      return tensor_from_typed_array(info[i].As<Napi::TypedArray>(), {n}).to(torch::kInt64);
    };
    auto stats = Normalization::of(tensor_from_typed_array(info[4].As<Napi::TypedArray>(), {3}),
                                   tensor_from_typed_array(info[5].As<Napi::TypedArray>(), {3}), torch::kCPU);
    auto out = DeviceDataset::normalize(DeviceDataset::crop_flip(images, as_long(1), as_long(2), as_long(3)), stats);
    return tensor_to_js(info.Env(), out);
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Define(env));
  exports.Set("ProcessGroup", GroupWrap::Define(env));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfoJs));
  exports.Set("augment", Napi::Function::New(env, AugmentJs));
  exports.Set("hardware", Napi::Function::New(env, HardwareJs));
  exports.Set("resolveDevice", Napi::Function::New(env, ResolveDeviceJs));
  RegisterAttacks(env, exports);
  return exports;
}

}  // namespace wmnn

static Napi::Object InitWmnn(Napi::Env env, Napi::Object exports) { return wmnn::Init(env, exports); }
NODE_API_MODULE(wmnn, InitWmnn)
