// The build without CUDA has no NCCL: CUDA tensors never exist, so only available() is called.
#include "tensor/error.h"
#include "tensor/nccl.h"

namespace wb::nccl {

bool available() { return false; }
std::string unique_id() { fail("NCCL: this build has no CUDA"); }
void* init(const std::string&, int, int, int) { fail("NCCL: this build has no CUDA"); }
void all_reduce_sum(void*, void*, int64_t, bool, int) { fail("NCCL: this build has no CUDA"); }
void destroy(void*) {}

}  // namespace wb::nccl
