// What this machine's processors can do natively, for choosing a precision (`--amp auto`) and
// for naming the machine in benchmarks. Read from CPUID and the OS's enabled register state, and
// from CUDA's device properties through libtorch's CUDA hooks (present in CPU builds too).
#pragma once

#include <string>

namespace wmnn {

struct CpuFeatures {
  std::string model;  // the CPUID brand string, e.g. "AMD EPYC 7B13 64-Core Processor"
  bool avx2 = false;
  bool avx512f = false;
  bool avx512_bf16 = false;  // AVX-512 BF16 (Cooper Lake, Sapphire Rapids, Zen 4 and later)
  bool amx_bf16 = false;     // AMX tiles with bf16 (Sapphire Rapids and later)
  // The OS saves the AVX-512 (ZMM/opmask) and AMX tile state: without it the instructions fault.
  bool os_avx512 = false;
  bool os_amx = false;
};

CpuFeatures cpu_features();

// CUDA device `index` runs bf16 natively (compute capability 8.0 or later, with cuDNN 8).
bool cuda_native_bf16(int index);

}  // namespace wmnn
