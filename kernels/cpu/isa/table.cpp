#include "kernels/cpu/isa/table.h"

namespace wb::kernels::cpu {

namespace generic {
extern const IsaKernels table;
}
#if defined(__x86_64__)
namespace avx2 {
extern const IsaKernels table;
}
namespace avx512 {
extern const IsaKernels table;
}
#endif

namespace {

const IsaKernels& table_of(CpuIsa isa) {
#if defined(__x86_64__)
  if (isa == CpuIsa::avx512) return avx512::table;
  if (isa == CpuIsa::avx2) return avx2::table;
#endif
  return generic::table;
}

}  // namespace

// cpu_isa() only ever returns a supported path.
const IsaKernels& isa_kernels() { return table_of(cpu_isa()); }

}  // namespace wb::kernels::cpu
