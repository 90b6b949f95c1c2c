// The addon without libtorch (build/Release/wmnn-image.node): the image codecs (libjpeg-turbo)
// and the engine preload. It loads in a millisecond, so a command starts libtorch's load on a
// thread at once, and decodes its images while libtorch's few hundred libraries are loading.
#include <napi.h>

#include "jpeg-encode.h"
#include "jpeg.h"
#include "preload.h"

static Napi::Object InitImage(Napi::Env env, Napi::Object exports) {
  RegisterJpeg(env, exports);
  RegisterJpegEncode(env, exports);
  RegisterPreload(env, exports);
  return exports;
}
NODE_API_MODULE(wmnn_image, InitImage)
