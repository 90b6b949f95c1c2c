// See jpeg.h. libjpeg reports fatal errors through error_exit, which by default calls exit();
// we longjmp back instead and reject the call's promise, so a corrupt image fails one call, not the
// process. Each call decodes on libuv's thread pool (every libjpeg object is the call's own), so a
// folder of images decodes in parallel.
#include "jpeg.h"

#include "jpeg-errors.h"

#include <jerror.h>

#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

// Warnings such as "corrupt JPEG data: extraneous bytes" do not stop PIL, so they stay silent.
// A truncated file is the exception: libjpeg pads it with grey and warns, while PIL (without
// LOAD_TRUNCATED_IMAGES) refuses it, so that warning is fatal here too.
void OnMessage(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) OnJpegError(cinfo);
}

struct Decoded {
  int width = 0, height = 0, channels = 0;  // of the whole image
  std::vector<uint8_t> pixels;              // the region's (or the image's) pixels, rows top to bottom
  std::vector<uint8_t> cmyk;                // libjpeg's output before PIL's CMYK->RGB conversion
  std::vector<uint8_t> row;                 // one decoded scanline
};

// A rectangle of the image, in pixels; width 0 means the whole image.
struct Rect {
  int left = 0, top = 0, width = 0, height = 0;
};

// PIL's cmyk2rgb (Convert.c, Pillow 9): r = 255 - k' - c*(255-k')/255, rounded as MULDIV255 does.
inline uint8_t Muldiv255(int a, int b) {
  int tmp = a * b + 128;
  return static_cast<uint8_t>(((tmp >> 8) + tmp) >> 8);
}

void CmykToRgb(const std::vector<uint8_t>& cmyk, int count, std::vector<uint8_t>& rgb) {
  rgb.resize(static_cast<size_t>(count) * 3);
  for (int i = 0; i < count; ++i) {
    // PIL reads CMYK JPEGs with rawmode "CMYK;I" (Adobe's inverted convention): invert first.
    const uint8_t* p = &cmyk[static_cast<size_t>(i) * 4];
    int c = 255 - p[0], m = 255 - p[1], y = 255 - p[2], k = 255 - p[3];
    int nk = 255 - k;
    int r = nk - Muldiv255(c, nk), g = nk - Muldiv255(m, nk), b = nk - Muldiv255(y, nk);
    rgb[static_cast<size_t>(i) * 3 + 0] = static_cast<uint8_t>(r < 0 ? 0 : r);
    rgb[static_cast<size_t>(i) * 3 + 1] = static_cast<uint8_t>(g < 0 ? 0 : g);
    rgb[static_cast<size_t>(i) * 3 + 2] = static_cast<uint8_t>(b < 0 ? 0 : b);
  }
}

// Fatal errors as jpeg-errors.h routes them; warnings through OnMessage.
void UseErrorManager(jpeg_decompress_struct& cinfo, JpegErrors& err) {
  UseJpegErrors(cinfo, err);
  err.pub.emit_message = OnMessage;
}

// Returns an empty string on success, else libjpeg's message. With a region, only the rows and
// columns around it are reconstructed (libjpeg-turbo's partial decoding): the window decoded reaches
// one iMCU beyond the region on every side, because fancy upsampling treats the window's own edges
// as image edges, so only pixels away from them equal a full decode's. Every other row is still
// entropy-decoded (jpeg_skip_scanlines), so a truncated file fails as it does in PIL. With
// `header_only`, only the header is read: `out` gets the image's width and height, no pixels.
std::string Decode(const uint8_t* data, size_t size, const Rect& region, Decoded& out, bool header_only = false) {
  jpeg_decompress_struct cinfo;
  JpegErrors err;
  UseErrorManager(cinfo, err);
  // longjmp skips destructors, so no object with one is created in this frame after setjmp: the
  // buffers live in the caller's `out`.
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return err.message;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (header_only) {
    out.width = static_cast<int>(cinfo.image_width);
    out.height = static_cast<int>(cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return "";
  }
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  if (cmyk)
    cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK, as PIL asks it to
  else if (cinfo.num_components == 1)
    cinfo.out_color_space = JCS_GRAYSCALE;
  else
    cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int w = static_cast<int>(cinfo.output_width), h = static_cast<int>(cinfo.output_height);
  const int comps = cinfo.output_components;
  const Rect r = region.width == 0 ? Rect{0, 0, w, h} : region;
  if (r.left < 0 || r.top < 0 || r.width <= 0 || r.height <= 0 || r.left + r.width > w || r.top + r.height > h) {
    jpeg_destroy_decompress(&cinfo);
    return "the region is not inside the " + std::to_string(w) + "x" + std::to_string(h) + " image";
  }
  JDIMENSION x0 = 0, window = static_cast<JDIMENSION>(w);
  if (r.width < w || r.height < h) {
    const int imcu_w = cinfo.max_h_samp_factor * DCTSIZE, imcu_h = cinfo.max_v_samp_factor * DCTSIZE;
    const int left = std::max(0, r.left - imcu_w), right = std::min(w, r.left + r.width + imcu_w);
    x0 = static_cast<JDIMENSION>(left);
    window = static_cast<JDIMENSION>(right - left);
    if (static_cast<int>(window) < w) jpeg_crop_scanline(&cinfo, &x0, &window);  // moves x0 left to an iMCU boundary
    const int top = std::max(0, r.top - imcu_h);
    if (top > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(top));
  }
  std::vector<uint8_t>& raw = cmyk ? out.cmyk : out.pixels;
  raw.resize(static_cast<size_t>(r.width) * r.height * comps);
  out.row.resize(static_cast<size_t>(cinfo.output_width) * comps);
  const size_t offset = static_cast<size_t>(r.left - static_cast<int>(x0)) * comps,
               bytes = static_cast<size_t>(r.width) * comps;
  while (static_cast<int>(cinfo.output_scanline) < r.top + r.height) {
    const int y = static_cast<int>(cinfo.output_scanline);
    JSAMPROW row = out.row.data();
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (y >= r.top) std::copy_n(out.row.data() + offset, bytes, &raw[static_cast<size_t>(y - r.top) * bytes]);
  }
  // Skipping to the very last row would mark the input finished without reading it (libjpeg-turbo
  // does so), and a file cut short below the region would pass; so all rows but the last are skipped
  // (entropy-decoded) and the last is read, which reaches the end of the data as a full decode does.
  const JDIMENSION rest = cinfo.output_height - cinfo.output_scanline;
  if (rest > 1) jpeg_skip_scanlines(&cinfo, rest - 1);
  if (rest > 0) {
    JSAMPROW row = out.row.data();
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  out.width = w;
  out.height = h;
  out.channels = cmyk ? 3 : comps;
  if (cmyk) CmykToRgb(out.cmyk, r.width * r.height, out.pixels);
  return "";
}

// { width, height, channels, data } for JavaScript.
Napi::Object ToObject(Napi::Env env, const Decoded& decoded) {
  auto pixels = Napi::Uint8Array::New(env, decoded.pixels.size());
  std::copy(decoded.pixels.begin(), decoded.pixels.end(), pixels.Data());
  Napi::Object result = Napi::Object::New(env);
  result.Set("width", decoded.width);
  result.Set("height", decoded.height);
  result.Set("channels", decoded.channels);
  result.Set("data", pixels);
  return result;
}

// Decodes off the JavaScript thread; the input array is held by a reference until the work is done.
class DecodeWorker : public Napi::AsyncWorker {
 public:
  DecodeWorker(Napi::Env env, Napi::Uint8Array input, Rect region)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        data_(input.Data()),
        size_(input.ByteLength()),
        region_(region) {
    input_ = Napi::Persistent(input);
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    std::string error = Decode(data_, size_, region_, decoded_);
    if (!error.empty()) SetError("JPEG decoding failed: " + error);
  }
  void OnOK() override { deferred_.Resolve(ToObject(Env(), decoded_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> input_;
  const uint8_t* data_;
  size_t size_;
  Rect region_;
  Decoded decoded_;
};

Napi::Uint8Array BytesArg(const Napi::CallbackInfo& info, const char* name) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " expects a Uint8Array");
  }
  return info[0].As<Napi::Uint8Array>();
}

// decodeJpeg(bytes, region?: { left, top, width, height }) -> Promise<{ width, height, channels, data }>
Napi::Value DecodeJpeg(const Napi::CallbackInfo& info) {
  auto bytes = BytesArg(info, "decodeJpeg");
  Rect region;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject())
      throw Napi::TypeError::New(info.Env(), "decodeJpeg: the region must be { left, top, width, height }");
    auto o = info[1].As<Napi::Object>();
    auto get = [&](const char* key) { return o.Get(key).ToNumber().Int32Value(); };
    region = Rect{get("left"), get("top"), get("width"), get("height")};
    if (region.width <= 0 || region.height <= 0)
      throw Napi::RangeError::New(info.Env(), "decodeJpeg: the region is empty");
  }
  auto* worker = new DecodeWorker(info.Env(), bytes, region);
  auto promise = worker->Promise();
  worker->Queue();
  return promise;
}

// decodeJpegSync(bytes) -> { width, height, channels, data }: the whole image, on the calling thread
// (for small in-memory images, where a trip to the pool costs more than the decoding).
Napi::Value DecodeJpegSync(const Napi::CallbackInfo& info) {
  auto bytes = BytesArg(info, "decodeJpegSync");
  Decoded decoded;
  std::string error = Decode(bytes.Data(), bytes.ByteLength(), Rect{}, decoded);
  if (!error.empty()) throw Napi::Error::New(info.Env(), "JPEG decoding failed: " + error);
  return ToObject(info.Env(), decoded);
}

// jpegSize(bytes) -> { width, height }, from the header alone (synchronous: it reads a few markers).
Napi::Value JpegSize(const Napi::CallbackInfo& info) {
  auto bytes = BytesArg(info, "jpegSize");
  Decoded header;
  std::string error = Decode(bytes.Data(), bytes.ByteLength(), Rect{}, header, /*header_only=*/true);
  if (!error.empty()) throw Napi::Error::New(info.Env(), "JPEG decoding failed: " + error);
  auto result = Napi::Object::New(info.Env());
  result.Set("width", header.width);
  result.Set("height", header.height);
  return result;
}

}  // namespace

void RegisterJpeg(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeJpeg", Napi::Function::New(env, DecodeJpeg, "decodeJpeg"));
  exports.Set("decodeJpegSync", Napi::Function::New(env, DecodeJpegSync, "decodeJpegSync"));
  exports.Set("jpegSize", Napi::Function::New(env, JpegSize, "jpegSize"));
}
