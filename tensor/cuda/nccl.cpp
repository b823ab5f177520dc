// NCCL on the engine's stream. A CUDA build without the NCCL library (WBPOSE_WITH_NCCL=0) reports
// itself unavailable, and CUDA tensors are then reduced through host copies and MPI.
#include "tensor/nccl.h"

#include <algorithm>

#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

#if WBPOSE_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#endif

namespace wb::nccl {

#if WBPOSE_WITH_NCCL

namespace {

void nccl_check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) fail("NCCL ", what, ": ", ncclGetErrorString(r));
}

}  // namespace

bool available() { return true; }

std::string unique_id() {
  ncclUniqueId id;
  nccl_check(ncclGetUniqueId(&id), "GetUniqueId");
  return std::string(id.internal, sizeof id.internal);
}

void* init(const std::string& unique_id, int size, int rank, int device) {
  ncclUniqueId id;
  check(unique_id.size() == sizeof id.internal, "NCCL: the unique id has ", unique_id.size(), " bytes, not ",
        sizeof id.internal);
  std::copy(unique_id.begin(), unique_id.end(), id.internal);
  cuda::set_device(device);
  ncclComm_t comm = nullptr;
  nccl_check(ncclCommInitRank(&comm, size, id, rank), "CommInitRank");
  return comm;
}

void all_reduce_sum(void* comm, void* data, int64_t count, bool f64, int device) {
  cuda::set_device(device);
  nccl_check(ncclAllReduce(data, data, static_cast<size_t>(count), f64 ? ncclDouble : ncclFloat, ncclSum,
                           static_cast<ncclComm_t>(comm), static_cast<cudaStream_t>(cuda::stream(device))),
             "AllReduce");
}

void destroy(void* comm) {
  if (comm) ncclCommDestroy(static_cast<ncclComm_t>(comm));
}

#else

bool available() { return false; }
std::string unique_id() { fail("NCCL: this build has no NCCL library"); }
void* init(const std::string&, int, int, int) { fail("NCCL: this build has no NCCL library"); }
void all_reduce_sum(void*, void*, int64_t, bool, int) { fail("NCCL: this build has no NCCL library"); }
void destroy(void*) {}

#endif

}  // namespace wb::nccl
