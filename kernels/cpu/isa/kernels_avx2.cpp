// The kernels of the avx2 path (kernels/cpu/isa.h); compiled with its flags (CMakeLists.txt).
#if defined(__x86_64__)  // elsewhere the generic path alone exists
#define WB_ISA_LEVEL 1
#include "kernels/cpu/isa/all.h"
#endif
