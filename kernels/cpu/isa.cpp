#include "kernels/cpu/isa.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tensor/error.h"

namespace wb::kernels::cpu {

namespace {

constexpr CpuIsa kAll[] = {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512};

// -1: not chosen yet; otherwise the CpuIsa value in use.
std::atomic<int> g_isa{-1};

bool cpu_has(CpuIsa isa) {
#if defined(__x86_64__)
  // GCC's checks read CPUID and, for AVX and AVX-512, XGETBV: the OS must save the wider registers.
  __builtin_cpu_init();
  switch (isa) {
    case CpuIsa::generic:
      return true;
    case CpuIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CpuIsa::avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return false;
#else
  return isa == CpuIsa::generic;
#endif
}

CpuIsa choose() {
  const char* env = std::getenv("WBPOSE_CPU_ISA");
  if (!env || !*env) return supported_cpu_isas().back();
  const std::string want = env;
  for (CpuIsa isa : kAll) {
    if (want != cpu_isa_name(isa)) continue;
    check(cpu_isa_supported(isa), "WBPOSE_CPU_ISA=", want, ": this machine or build cannot run that path (supported: ",
          [] {
            std::string s;
            for (CpuIsa i : supported_cpu_isas()) s += (s.empty() ? "" : ", ") + std::string(cpu_isa_name(i));
            return s;
          }(),
          ")");
    return isa;
  }
  fail("WBPOSE_CPU_ISA=", want, " is not a CPU path (use avx512, avx2 or generic)");
}

}  // namespace

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::generic:
      return "generic";
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::avx512:
      return "avx512";
  }
  return "?";
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

bool cpu_isa_supported(CpuIsa isa) { return cpu_has(isa); }

std::vector<CpuIsa> supported_cpu_isas() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : kAll) {
    if (cpu_isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

CpuIsa cpu_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(choose());
    g_isa.store(v, std::memory_order_relaxed);
  }
  return static_cast<CpuIsa>(v);
}

CpuIsaOverride::CpuIsaOverride(CpuIsa isa) : previous_(g_isa.load()) {
  check(cpu_isa_supported(isa), "CPU path ", cpu_isa_name(isa), " is not supported on this machine");
  g_isa.store(static_cast<int>(isa));
}

CpuIsaOverride::~CpuIsaOverride() { g_isa.store(previous_); }

}  // namespace wb::kernels::cpu
