// The image codecs' addon (build/Release/wmnn-image.node): libjpeg-turbo and N-API, no libtorch.
// It loads in milliseconds, so a command decodes its images while the engine addon (and
// libtorch's few hundred shared libraries) is still loading on the preload thread.
#include <napi.h>

#include "jpeg-encode.h"
#include "jpeg.h"

static Napi::Object InitImage(Napi::Env env, Napi::Object exports) {
  RegisterJpeg(env, exports);
  RegisterJpegEncode(env, exports);
  return exports;
}
NODE_API_MODULE(wmnn_image, InitImage)
