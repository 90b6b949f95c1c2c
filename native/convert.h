// The N-API side of the boundary: typed arrays <-> tensors, libtorch errors -> JavaScript
// exceptions, and long work on a worker thread behind a Promise.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace wmnn {

// A libtorch error as one line: its message without the C++ backtrace.
inline std::string error_message(const std::exception& e) {
  if (auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->msg();
  return e.what();
}

inline const char* dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return "float32";
    case torch::kInt64:
      return "int64";
    case torch::kInt32:
      return "int32";
    case torch::kUInt8:
      return "uint8";
    case torch::kFloat64:
      return "float64";
    default:
      return "unsupported";
  }
}

inline Napi::Array shape_to_js(Napi::Env env, c10::IntArrayRef sizes) {
  auto arr = Napi::Array::New(env, sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) arr.Set(i, Napi::Number::New(env, static_cast<double>(sizes[i])));
  return arr;
}

// A CPU tensor copied out as { dtype, shape, data } (data: the matching typed array).
inline Napi::Object tensor_to_js(Napi::Env env, const torch::Tensor& t0) {
  auto t = t0.to(torch::kCPU).contiguous();
  const size_t bytes = t.numel() * t.element_size();
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  const size_t n = t.numel();
  Napi::Value data;
  switch (t.scalar_type()) {
    case torch::kFloat32:
      data = Napi::Float32Array::New(env, n, buf, 0);
      break;
    case torch::kFloat64:
      data = Napi::Float64Array::New(env, n, buf, 0);
      break;
    case torch::kInt64:
      data = Napi::BigInt64Array::New(env, n, buf, 0);
      break;
    case torch::kInt32:
      data = Napi::Int32Array::New(env, n, buf, 0);
      break;
    case torch::kUInt8:
      data = Napi::Uint8Array::New(env, n, buf, 0);
      break;
    default:
      throw Napi::Error::New(env, std::string("cannot export dtype ") + c10::toString(t.scalar_type()));
  }
  auto obj = Napi::Object::New(env);
  obj.Set("dtype", dtype_name(t.scalar_type()));
  obj.Set("shape", shape_to_js(env, t.sizes()));
  obj.Set("data", data);
  return obj;
}

inline torch::ScalarType typed_array_dtype(const Napi::TypedArray& a) {
  switch (a.TypedArrayType()) {
    case napi_float32_array:
      return torch::kFloat32;
    case napi_float64_array:
      return torch::kFloat64;
    case napi_bigint64_array:
      return torch::kInt64;
    case napi_int32_array:
      return torch::kInt32;
    case napi_uint8_array:
      return torch::kUInt8;
    default:
      throw Napi::TypeError::New(
          a.Env(), "unsupported typed array (use Float32Array, Float64Array, BigInt64Array, Int32Array or Uint8Array)");
  }
}

// A typed array with an explicit shape -> a CPU tensor over the array's own memory, not copied.
// Only for synchronous calls that copy what they keep before returning: JavaScript may move or
// free the buffer once the call returns. The element count must match the shape.
inline torch::Tensor tensor_view_of_typed_array(const Napi::TypedArray& a, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) {
    if (s < 0) throw Napi::RangeError::New(a.Env(), "negative dimension in shape");
    n *= s;
  }
  if (static_cast<int64_t>(a.ElementLength()) != n) {
    throw Napi::RangeError::New(a.Env(), "typed array has " + std::to_string(a.ElementLength()) +
                                             " elements but the shape needs " + std::to_string(n));
  }
  auto* ptr = static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  return torch::from_blob(ptr, shape, typed_array_dtype(a));
}

// The same as an owned CPU tensor (copied), for anything kept past the call.
inline torch::Tensor tensor_from_typed_array(const Napi::TypedArray& a, const std::vector<int64_t>& shape) {
  return tensor_view_of_typed_array(a, shape).clone();
}

inline std::vector<int64_t> shape_from_js(const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "shape must be an array of integers");
  auto arr = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) out.push_back(arr.Get(i).As<Napi::Number>().Int64Value());
  return out;
}

// { dtype, shape, data } from JavaScript -> a CPU tensor viewing `data` (tensor_view_of_typed_array:
// for synchronous calls that copy it). A checkpoint's weights go into the engine in one copy.
inline torch::Tensor tensor_view_from_js(const Napi::Value& v) {
  if (!v.IsObject()) throw Napi::TypeError::New(v.Env(), "expected a tensor { dtype, shape, data }");
  auto obj = v.As<Napi::Object>();
  auto data = obj.Get("data");
  if (!data.IsTypedArray()) throw Napi::TypeError::New(v.Env(), "tensor.data must be a typed array");
  return tensor_view_of_typed_array(data.As<Napi::TypedArray>(), shape_from_js(obj.Get("shape")));
}

// Runs `work` on a libuv worker thread; the Promise resolves with what `finish` builds on the
// JavaScript thread from the work's result, or rejects with libtorch's message.
class Task : public Napi::AsyncWorker {
 public:
  using Finish = std::function<Napi::Value(Napi::Env)>;
  using Work = std::function<Finish()>;

  static Napi::Promise Run(Napi::Env env, Napi::Object keep_alive, Work work) {
    auto* task = new Task(env, keep_alive, std::move(work));
    auto promise = task->deferred_.Promise();
    task->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      finish_ = work_();
    } catch (const std::exception& e) {
      SetError(error_message(e));
    }
  }
  void OnOK() override { deferred_.Resolve(finish_ ? finish_(Env()) : Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Task(Napi::Env env, Napi::Object keep_alive, Work work)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)) {
    keep_alive_ = Napi::Persistent(keep_alive);
  }
  Napi::Promise::Deferred deferred_;
  Work work_;
  Finish finish_;
  Napi::ObjectReference keep_alive_;
};

// Synchronous calls: libtorch exceptions become JavaScript errors with libtorch's message.
template <typename F>
auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_message(e));
  }
}

}  // namespace wmnn
