// See jpeg.h. libjpeg reports fatal errors through error_exit, which by default calls exit();
// we longjmp back instead and throw a JS error, so a corrupt image fails one call, not the process.
#include "jpeg.h"

#include <csetjmp>
#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void OnError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings such as "corrupt JPEG data: extraneous bytes" do not stop PIL, so they stay silent.
// A truncated file is the exception: libjpeg pads it with grey and warns, while PIL (without
// LOAD_TRUNCATED_IMAGES) refuses it, so that warning is fatal here too.
void OnMessage(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) OnError(cinfo);
}

struct Decoded {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> cmyk;  // libjpeg's output before PIL's CMYK->RGB conversion
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

// Returns an empty string on success, else libjpeg's message.
std::string Decode(const uint8_t* data, size_t size, Decoded& out) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = OnError;
  err.pub.emit_message = OnMessage;
  // longjmp skips destructors, so no object with one is created in this frame after setjmp: the
  // buffers live in the caller's `out`.
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return err.message;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  if (cmyk) cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK, as PIL asks it to
  else if (cinfo.num_components == 1) cinfo.out_color_space = JCS_GRAYSCALE;
  else cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int w = static_cast<int>(cinfo.output_width), h = static_cast<int>(cinfo.output_height);
  const int comps = cinfo.output_components;
  std::vector<uint8_t>& raw = cmyk ? out.cmyk : out.pixels;
  raw.resize(static_cast<size_t>(w) * h * comps);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = &raw[static_cast<size_t>(cinfo.output_scanline) * w * comps];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  out.width = w;
  out.height = h;
  out.channels = cmyk ? 3 : comps;
  if (cmyk) CmykToRgb(out.cmyk, w * h, out.pixels);
  return "";
}

Napi::Value DecodeJpeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "decodeJpeg expects a Uint8Array");
  }
  auto buf = info[0].As<Napi::Uint8Array>();
  Decoded decoded;
  std::string error = Decode(buf.Data(), buf.ByteLength(), decoded);
  if (!error.empty()) throw Napi::Error::New(env, "JPEG decoding failed: " + error);
  auto pixels = Napi::Uint8Array::New(env, decoded.pixels.size());
  std::copy(decoded.pixels.begin(), decoded.pixels.end(), pixels.Data());
  Napi::Object result = Napi::Object::New(env);
  result.Set("width", decoded.width);
  result.Set("height", decoded.height);
  result.Set("channels", decoded.channels);
  result.Set("data", pixels);
  return result;
}

}  // namespace

void RegisterJpeg(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeJpeg", Napi::Function::New(env, DecodeJpeg, "decodeJpeg"));
}
