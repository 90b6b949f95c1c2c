// Registers the addon's JavaScript surface; the work itself lives in engine/data/model/jpeg.
#include <napi.h>

#include "attacks.h"
#include "convert.h"
#include "engine.h"
#include "jpeg.h"
#include "jpeg-encode.h"

namespace wmnn {
namespace {

int64_t int_arg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine", {
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
    engine_ = guarded(info.Env(), [&] { return std::make_unique<Engine>(opts); });
  }

 private:
  // Synchronous calls share the engine lock with the worker-thread calls.
  template <typename F>
  auto sync(const Napi::CallbackInfo& info, F&& f) -> decltype(f()) {
    std::lock_guard<std::mutex> lock(engine_->mutex());
    engine_->enter_thread();
    return guarded(info.Env(), std::forward<F>(f));
  }
  // Worker-thread calls: `work` runs under the lock off the JavaScript thread.
  Napi::Promise async(const Napi::CallbackInfo& info, Task::Work work) {
    Engine* e = engine_.get();
    return Task::Run(info.Env(), info.This().As<Napi::Object>(), [e, work = std::move(work)]() {
      std::lock_guard<std::mutex> lock(e->mutex());
      e->enter_thread();
      return work();
    });
  }

  Napi::Value Describe(const Napi::CallbackInfo& info) {
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
    auto value = tensor_from_js(info[1]);
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
    auto value = tensor_from_js(info[1]);
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
    auto mask = tensor_from_js(info[1]);
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

  // upload(images: Uint8Array (N*3*32*32), labels: Int32Array (N)) -> dataset id
  Napi::Value Upload(const Napi::CallbackInfo& info) {
    auto labels_arr = info[1].As<Napi::TypedArray>();
    const int64_t n = static_cast<int64_t>(labels_arr.ElementLength());
    auto images = tensor_from_typed_array(info[0].As<Napi::TypedArray>(), {n, 3, 32, 32});
    auto labels = tensor_from_typed_array(labels_arr, {n});
    return Napi::Number::New(info.Env(), sync(info, [&] { return engine_->upload(images, labels); }));
  }
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
    int64_t start = int_arg(info, 1), count = int_arg(info, 2), wm_start = int_arg(info, 4), wm_count = int_arg(info, 5);
    Engine* e = engine_.get();
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
    Engine* e = engine_.get();
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
    Engine* e = engine_.get();
    return async(info, [=]() -> Task::Finish {
      auto logits = e->forward(x, train);
      return [logits](Napi::Env env) -> Napi::Value { return tensor_to_js(env, logits); };
    });
  }

  std::unique_ptr<Engine> engine_;
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
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

// augment(images: Uint8Array (N*3*32*32), dx, dy, flip: Int32Array (N)) -> normalised float32
// tensor: the training transform with given draws, so tests can compare it with torchvision.
Napi::Value AugmentJs(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] {
    auto dx_arr = info[1].As<Napi::TypedArray>();
    const int64_t n = static_cast<int64_t>(dx_arr.ElementLength());
    auto images = tensor_from_typed_array(info[0].As<Napi::TypedArray>(), {n, 3, 32, 32});
    auto as_long = [&](size_t i) { return tensor_from_typed_array(info[i].As<Napi::TypedArray>(), {n}).to(torch::kInt64); };
    auto out = DeviceDataset::normalize(DeviceDataset::crop_flip(images, as_long(1), as_long(2), as_long(3)),
                                        DeviceDataset::cifar_stats(torch::kCPU));
    return tensor_to_js(info.Env(), out);
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Define(env));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfoJs));
  exports.Set("augment", Napi::Function::New(env, AugmentJs));
  RegisterJpeg(env, exports);
  RegisterJpegEncode(env, exports);
  RegisterAttacks(env, exports);
  return exports;
}

}  // namespace wmnn

static Napi::Object InitWmnn(Napi::Env env, Napi::Object exports) { return wmnn::Init(env, exports); }
NODE_API_MODULE(wmnn, InitWmnn)
