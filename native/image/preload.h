// The engine preload: libtorch's shared libraries loaded on a native thread while the JavaScript
// side goes on; and the exit that does not wait for them. It lives in this addon because this
// one loads in a millisecond, without libtorch.
#pragma once

#include <napi.h>

// Adds to exports:
//   preloadLibrary(path: string): dlopen(path, RTLD_LAZY) on a thread of its own, once per
//     process (later calls do nothing). Node's own dlopen of the same path, later, waits for it
//     or finds the library loaded, then initialises the addon as usual. A failure is not
//     reported here: Node's load meets it again and says what it is.
//   preloadDone(): true once that thread's dlopen has returned (or when none was started);
//   exitNow(code): ends the process at once (_exit). No static destructors run, those of libtorch
//     and its ~290 libraries included (a tenth of a second, for memory the kernel frees anyway),
//     and a preload still in flight is not waited for.
// The ordinary exit joins the preload's thread before its cleanup, so the process never ends
// inside a static initialiser of libtorch.
void RegisterPreload(Napi::Env env, Napi::Object exports);
