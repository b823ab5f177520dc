// The kernels of the generic path (kernels/cpu/isa.h), for the build's baseline target.
#define WB_ISA_LEVEL 0
#include "kernels/cpu/isa/all.h"
