// See jpeg-encode.h. Errors longjmp back to the call (jpeg-errors.h) and become a JS error.
#include "jpeg-encode.h"

#include <cstdint>
#include <cstdlib>
#include <string>

#include "jpeg-errors.h"

namespace {

// The compressed bytes land in `*out` (malloc'd by libjpeg, freed by the caller). Returns an empty
// string on success, else libjpeg's message.
std::string Encode(const uint8_t* rgb, int width, int height, int quality, unsigned char** out, unsigned long* size) {
  jpeg_compress_struct cinfo;
  JpegErrors err;
  UseJpegErrors(cinfo, err);
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    return err.message;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, out, size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  // PIL's encoder: libjpeg's defaults (YCbCr, 2x2 chroma subsampling, JDCT_ISLOW), then the
  // quality with force_baseline, no optimised Huffman tables, not progressive.
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&rgb[static_cast<size_t>(cinfo.next_scanline) * width * 3]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return "";
}

Napi::Value EncodeJpeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "encodeJpeg expects (rgb: Uint8Array, width, height, quality)");
  }
  auto rgb = info[0].As<Napi::Uint8Array>();
  const int width = info[1].As<Napi::Number>().Int32Value(), height = info[2].As<Napi::Number>().Int32Value();
  const int quality = info[3].As<Napi::Number>().Int32Value();
  if (width < 1 || height < 1 || static_cast<size_t>(width) * height * 3 != rgb.ByteLength()) {
    throw Napi::RangeError::New(env, "encodeJpeg: rgb must hold width x height x 3 bytes");
  }
  if (quality < 1 || quality > 100) throw Napi::RangeError::New(env, "encodeJpeg: quality must be 1..100");
  unsigned char* out = nullptr;
  unsigned long size = 0;
  std::string error = Encode(rgb.Data(), width, height, quality, &out, &size);
  if (!error.empty()) {
    std::free(out);
    throw Napi::Error::New(env, "JPEG encoding failed: " + error);
  }
  auto bytes = Napi::Uint8Array::New(env, size);
  std::copy(out, out + size, bytes.Data());
  std::free(out);
  return bytes;
}

}  // namespace

void RegisterJpegEncode(Napi::Env env, Napi::Object exports) {
  exports.Set("encodeJpeg", Napi::Function::New(env, EncodeJpeg, "encodeJpeg"));
}
