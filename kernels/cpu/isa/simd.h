// The vector of one instruction set, for the kernels compiled once per set (kernels/cpu/isa.h).
// Included only by the translation units of kernels/cpu/isa/, each of which defines WB_ISA_LEVEL
// (0 generic, 1 avx2, 2 avx512) first and is compiled with that set's flags (CMakeLists.txt).
//
// A kernel's body uses the GCC/Clang vector extension (V: L floats, with +, *, >, ?: and []) and
// the few helpers of Simd; the compiler picks each set's instructions.
// Those files are built with -ffp-contract=fast: `acc += a * b` becomes one FMA where the set has it.
#pragma once
#include <cstdint>
#include <cstring>

#if !defined(WB_ISA_LEVEL)
#error "define WB_ISA_LEVEL before including kernels/cpu/isa/simd.h"
#elif WB_ISA_LEVEL == 2
#if !defined(__AVX512F__) || !defined(__FMA__)
#error "the avx512 kernels must be compiled with -mavx512f -mfma"
#endif
#define WB_ISA_NS avx512
#elif WB_ISA_LEVEL == 1
#if !defined(__AVX2__) || !defined(__FMA__)
#error "the avx2 kernels must be compiled with -mavx2 -mfma"
#endif
#define WB_ISA_NS avx2
#elif WB_ISA_LEVEL == 0
#define WB_ISA_NS generic
#else
#error "WB_ISA_LEVEL must be 0, 1 or 2"
#endif

namespace wb::kernels::cpu::WB_ISA_NS {

struct Simd {
  static constexpr int L = WB_ISA_LEVEL == 2 ? 16 : WB_ISA_LEVEL == 1 ? 8 : 4;
  typedef float V __attribute__((vector_size(L * sizeof(float))));
  typedef int32_t I __attribute__((vector_size(L * sizeof(float))));

  static V zero() { return V{}; }
  // A broadcast: lane 0 shuffled into every lane, one instruction (V{} + f costs an add, since
  // 0 + f is not f for f = -0, and a loop over the lanes compiled to lane inserts).
  static V set1(float f) { return __builtin_shuffle(V{f}, I{}); }
  static V load(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(float* p, V v) { std::memcpy(p, &v, sizeof v); }

  // Only p[0, count) is touched (count <= L): the loads zero the other lanes.
  static V load_first(const float* p, int count) {
    if (count == L) return load(p);
    V v{};
    for (int l = 0; l < count; ++l) v[l] = p[l];
    return v;
  }
  static void store_first(float* p, V v, int count) {
    if (count == L) return store(p, v);
    for (int l = 0; l < count; ++l) p[l] = v[l];
  }
  static V max(V a, V b) { return a > b ? a : b; }
};

}  // namespace wb::kernels::cpu::WB_ISA_NS
