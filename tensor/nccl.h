// NCCL, for the CUDA tensors of tensor/communicator.h: the few calls a data-parallel job needs.
// Compiled from tensor/cuda/nccl.cpp when the build has CUDA and NCCL; elsewhere available() is
// false and the others are never reached (tensor/nocuda/nccl.cpp).
#pragma once
#include <cstdint>
#include <string>

namespace wb::nccl {

bool available();
// ncclGetUniqueId's bytes, drawn by rank 0 and handed to the others.
std::string unique_id();
// This rank's communicator on `device` (ncclCommInitRank); an opaque ncclComm_t.
void* init(const std::string& unique_id, int size, int rank, int device);
// In-place sum over the ranks on the engine's stream of `device` (tensor/cuda_runtime.h).
void all_reduce_sum(void* comm, void* data, int64_t count, bool f64, int device);
// Releases a communicator from init (null: nothing).
void destroy(void* comm);

}  // namespace wb::nccl
