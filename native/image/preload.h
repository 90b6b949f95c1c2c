// The engine preload: libtorch's shared libraries loaded on a native thread while the JavaScript
// side goes on. It lives in this addon because this one loads in a millisecond, without libtorch.
#pragma once

#include <napi.h>

// Adds to exports:
//   preloadLibrary(path: string): dlopen(path, RTLD_LAZY) on a thread of its own, once per
//     process (later calls do nothing). Node's own dlopen of the same path, later, waits for it
//     or finds the library loaded, then initialises the addon as usual. A failure is not
//     reported here: Node's load meets it again and says what it is.
//   preloadDone(): true once that thread's dlopen has returned (or when none was started).
// The process joins the thread before exit's cleanup, so it never ends inside a static
// initialiser of libtorch.
void RegisterPreload(Napi::Env env, Napi::Object exports);
