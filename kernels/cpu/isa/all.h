// Every kernel body and the table of one instruction set: the whole of kernels_<isa>.cpp.
#pragma once
#include "kernels/cpu/isa/conv3x3_direct_body.h"
#include "kernels/cpu/isa/table.h"

namespace wb::kernels::cpu::WB_ISA_NS {

extern const IsaKernels table;
const IsaKernels table = {
    .conv3x3_direct = conv3x3_direct,
};

}  // namespace wb::kernels::cpu::WB_ISA_NS
