// See preload.h. A Worker could do the same through require(), but it costs a Node environment
// of its own: 40 ms before its first line runs, and as much CPU, on the way to every cold start.
#include "preload.h"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace {

std::mutex started_mutex;
std::thread* loader = nullptr;  // never deleted: joined at exit, and the process ends
std::atomic<bool> done{true};

void JoinLoader() {
  std::lock_guard<std::mutex> lock(started_mutex);
  if (loader != nullptr && loader->joinable()) loader->join();
}

Napi::Value PreloadLibrary(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "preloadLibrary expects a path");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::lock_guard<std::mutex> lock(started_mutex);
  if (loader != nullptr) return info.Env().Undefined();
  done = false;
  // The handle is kept open for good: Node's dlopen takes the same library.
  loader = new std::thread([path] {
    dlopen(path.c_str(), RTLD_LAZY);
    done = true;
  });
  // atexit handlers run in reverse order of registration, so this one runs before those that
  // Node and the C++ runtime registered when the process started.
  std::atexit(JoinLoader);
  return info.Env().Undefined();
}

Napi::Value PreloadDone(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), done.load()); }

Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  const int code = info[0].As<Napi::Number>().Int32Value();
  std::fflush(nullptr);
  _exit(code);
}

}  // namespace

void RegisterPreload(Napi::Env env, Napi::Object exports) {
  exports.Set("preloadLibrary", Napi::Function::New(env, PreloadLibrary, "preloadLibrary"));
  exports.Set("preloadDone", Napi::Function::New(env, PreloadDone, "preloadDone"));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
}
