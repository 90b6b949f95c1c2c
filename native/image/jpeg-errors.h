// libjpeg's fatal errors as a longjmp back to the call that met them, for the decoder (jpeg.cc)
// and the encoder (jpeg-encode.cc): libjpeg's default error_exit calls exit(), which would end
// the process over one bad image. The setjmp itself must stay in the calling function's frame,
// and no object with a destructor may live in that frame after it (longjmp skips destructors).
#pragma once

// clang-format off
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <jpeglib.h>
// clang-format on

#include <csetjmp>

struct JpegErrors {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

inline void OnJpegError(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Routes the fatal errors of `cinfo` (a jpeg_decompress_struct or jpeg_compress_struct) to `err`.
template <typename Info>
void UseJpegErrors(Info& cinfo, JpegErrors& err) {
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = OnJpegError;
}
