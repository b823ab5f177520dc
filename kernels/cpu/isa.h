// Which vector instruction set the CPU kernels run with, chosen at run time.
//
// The vectorized kernels (kernels/cpu/isa/) are written once, over a vector of L floats, and
// compiled once per instruction set with that set's flags: avx512 (16 lanes), avx2 (8 lanes with
// FMA) and generic (4 lanes of the build's baseline target: SSE2 on x86-64, NEON on AArch64, for
// any other machine). The rest of the build targets the baseline (CMakeLists.txt:
// WBPOSE_CPU_BASELINE), so one binary runs on every machine the baseline allows and each kernel
// takes the widest path this CPU and its operating system support.
//
// WBPOSE_CPU_ISA=avx512|avx2|generic forces a path (tests, benchmarks); a path this machine lacks
// is refused with an error rather than run into an illegal instruction.
#pragma once
#include <string>
#include <vector>

namespace wb::kernels::cpu {

enum class CpuIsa { generic, avx2, avx512 };

const char* cpu_isa_name(CpuIsa isa);

// The CPU's model name (/proc/cpuinfo), for reports beside timings; "unknown CPU" elsewhere.
std::string cpu_model_name();

// Whether this build has the path and this CPU (and OS) can run it.
bool cpu_isa_supported(CpuIsa isa);
std::vector<CpuIsa> supported_cpu_isas();  // narrowest first

// The path the kernels take now: the one forced by cpu_isa_override or WBPOSE_CPU_ISA, else the
// widest supported. Throws wb::Error naming WBPOSE_CPU_ISA if it asks for an unknown or
// unsupported path.
CpuIsa cpu_isa();

// Runs the kernels on `isa` while the guard lives (tests and benchmarks compare paths in one
// process); `isa` must be supported. Not for use while kernels run on other threads.
class CpuIsaOverride {
 public:
  explicit CpuIsaOverride(CpuIsa isa);
  ~CpuIsaOverride();
  CpuIsaOverride(const CpuIsaOverride&) = delete;
  CpuIsaOverride& operator=(const CpuIsaOverride&) = delete;

 private:
  int previous_;
};

}  // namespace wb::kernels::cpu
