// Collective communication between the processes of one data-parallel job: the ranks that
// `mpirun -np N` starts. A process started without mpirun is a job of one, where every collective
// is the identity, so the same code runs either way.
//
// Transport is the existing engines, nothing of our own: MPI (Open MPI) for launching, rendezvous
// and CPU collectives; NCCL for CUDA tensors where the build has it (MPI broadcasts NCCL's unique
// id, as llm.c does). A CUDA tensor without NCCL goes through a host copy and MPI.
//
// Every rank must make the same collective calls in the same order (MPI's rule). A rank that fails
// calls abort_job(), which ends every rank with its exit code, rather than leaving them waiting in
// a collective; a rank that dies is noticed by mpirun, which ends the others.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace wb::dist {

// A collective started and not yet finished (all_reduce_sum_async).
class Pending {
 public:
  virtual ~Pending() = default;
  // Blocks until the collective is done; its tensor then holds the result.
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // This rank's index among the ranks on its machine (which GPU it takes).
  virtual int local_rank() const = 0;
  // Element-wise sum over the ranks, in place, on every rank: a contiguous f32 or f64 tensor of the
  // same shape on every rank, on the CPU or a CUDA device.
  virtual void all_reduce_sum(Tensor& t) = 0;
  // The same, started now; the tensor must stay alive and untouched until wait() returns. Calls
  // that overlap finish in the order they were started.
  virtual std::unique_ptr<Pending> all_reduce_sum_async(Tensor& t) = 0;
  // The largest of every rank's value, on every rank (agreeing on a stop flag, say).
  virtual int64_t all_reduce_max(int64_t value) = 0;
  // root's tensor into every rank's (same shape and dtype everywhere).
  virtual void broadcast(Tensor& t, int root) = 0;
  // root's bytes to every rank.
  virtual void broadcast(std::string& bytes, int root) = 0;
  // Every rank's bytes in rank order, on root; other ranks get nothing.
  virtual std::vector<std::string> gather(const std::string& bytes, int root) = 0;
  virtual void barrier() = 0;
};

// The job this process belongs to: MPI_COMM_WORLD when mpirun started it (and the build has MPI; a
// build without it refuses such a launch with an error), otherwise a job of one. MPI is set up on the
// first call and shut down at exit.
Communicator& world();
// A job of one, whatever the launch (a test compares a data-parallel run against it).
Communicator& self();

// Whether this process was started by an MPI launcher (mpirun, srun with PMIx), read from the
// environment; world() does not need to be set up for it.
bool launched_by_mpi();

// Ends every rank of the job with `code` (1..127): what a failing rank does instead of returning
// from main(), where the others would wait for it forever. A job of one returns `code`.
int abort_job(int code);

}  // namespace wb::dist
