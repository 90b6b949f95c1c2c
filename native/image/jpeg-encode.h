// JPEG encoding for the query-time input attack: libjpeg-turbo with the settings PIL's
// Image.save(f, 'JPEG', quality=q) uses (baseline, 4:2:0 chroma subsampling, the integer DCT), so
// that encoding here and decoding with decodeJpeg gives PIL's round trip pixel for pixel.
#pragma once

#include <napi.h>

// Adds `encodeJpeg(rgb: Uint8Array, width, height, quality) => Uint8Array` to exports; `rgb` is
// interleaved 8-bit RGB, rows top to bottom; quality 1..100.
void RegisterJpegEncode(Napi::Env env, Napi::Object exports);
