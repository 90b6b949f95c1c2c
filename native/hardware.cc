#include "hardware.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/DeviceGuard.h>
#include <torch/cuda.h>

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define WMNN_X86 1
#endif

namespace wmnn {
namespace {
#ifdef WMNN_X86
struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

bool bit(uint32_t reg, int n) { return (reg >> n) & 1u; }

// XGETBV(0): which register states the OS saves on a context switch.
uint64_t enabled_xstate() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

std::string brand_string() {
  if (cpuid(0x80000000u, 0).eax < 0x80000004u) return "";
  char brand[49] = {0};
  for (uint32_t i = 0; i < 3; ++i) {
    Regs r = cpuid(0x80000002u + i, 0);
    std::memcpy(brand + 16 * i, &r, 16);
  }
  std::string s(brand);
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}
#endif
}  // namespace

CpuFeatures cpu_features() {
  CpuFeatures f;
#ifdef WMNN_X86
  f.model = brand_string();
  const uint32_t max_leaf = cpuid(0, 0).eax;
  const bool osxsave = bit(cpuid(1, 0).ecx, 27);
  const uint64_t xcr0 = osxsave ? enabled_xstate() : 0;
  // XCR0 bits: 1-2 SSE/AVX, 5-7 opmask + ZMM upper halves + ZMM16-31, 17-18 AMX tile config + data.
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  f.os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
  f.os_amx = (xcr0 & 0x60000) == 0x60000;
  if (max_leaf >= 7) {
    const Regs l7 = cpuid(7, 0);
    f.avx2 = os_avx && bit(l7.ebx, 5);
    f.avx512f = bit(l7.ebx, 16);
    f.amx_bf16 = bit(l7.edx, 22);
    if (l7.eax >= 1) f.avx512_bf16 = bit(cpuid(7, 1).eax, 5);
  }
#endif
  return f;
}

bool cuda_native_bf16(int index) {
  if (!at::hasCUDA() || index < 0 || index >= static_cast<int>(torch::cuda::device_count())) return false;
  // The hook answers for the current device (compute capability 8.0 or later, with cuDNN 8); the
  // guard makes `index` current and restores the previous one.
  c10::DeviceGuard guard(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index)));
  return at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8();
}

}  // namespace wmnn
