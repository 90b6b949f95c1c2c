// JPEG decoding for the data readers: libjpeg-turbo with its default decompression settings,
// which is what PIL uses, so decoded pixels equal PIL's bit for bit. No libtorch here.
#pragma once

#include <napi.h>

// Adds to exports:
//   decodeJpeg(buf: Uint8Array, region?: { left, top, width, height })
//     => Promise<{ width, height, channels, data: Uint8Array }>: width and height of the whole image,
//     data the region's pixels (all of them without a region); the decoding runs on libuv's pool;
//   decodeJpegSync(buf) => { width, height, channels, data }: the whole image, on the calling thread;
//   jpegSize(buf) => { width, height }, from the header.
// channels is 3 (RGB) for colour images and 1 for greyscale ones; CMYK/YCCK images come back as
// RGB converted the way PIL's Image.convert('RGB') does it.
void RegisterJpeg(Napi::Env env, Napi::Object exports);
