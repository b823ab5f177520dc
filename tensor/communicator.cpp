#include "tensor/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "tensor/error.h"
#include "tensor/nccl.h"
#include "tensor/profile.h"

#if WBPOSE_WITH_MPI
#include <mpi.h>
#endif

namespace wb::dist {

namespace {

void check_reducible(const Tensor& t, const char* what) {
  check(t.is_contiguous(), what, ": the tensor ", t.str(), " is not contiguous");
  check(t.dtype() == DType::F32 || t.dtype() == DType::F64, what, ": ", t.str(), " is not f32 or f64");
}

class Done : public Pending {
 public:
  void wait() override {}
};

// A job of one: every collective leaves its data as it is.
class SingleProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  // The same checks as a job of many, so that a one-process run finds what N processes would.
  void all_reduce_sum(Tensor& t) override { check_reducible(t, "all_reduce_sum"); }
  std::unique_ptr<Pending> all_reduce_sum_async(Tensor& t) override {
    check_reducible(t, "all_reduce_sum");
    return std::make_unique<Done>();
  }
  int64_t all_reduce_max(int64_t value) override { return value; }
  void broadcast(Tensor&, int) override {}
  void broadcast(std::string&, int) override {}
  std::vector<std::string> gather(const std::string& bytes, int) override { return {bytes}; }
  void barrier() override {}
};

#if WBPOSE_WITH_MPI

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail("MPI ", what, ": ", std::string(msg, static_cast<size_t>(len)));
}

MPI_Datatype mpi_type(const Tensor& t) { return t.dtype() == DType::F64 ? MPI_DOUBLE : MPI_FLOAT; }

// MPI counts are int: larger tensors go in pieces.
constexpr int64_t kMaxCount = int64_t{1} << 30;

class MpiPending : public Pending {
 public:
  // `target`: the tensor being reduced; `staged`: its host copy when it lives on a GPU.
  MpiPending(std::vector<MPI_Request> requests, Tensor staged, Tensor target)
      : requests_(std::move(requests)), staged_(std::move(staged)), target_(std::move(target)) {}
  void wait() override {
    if (requests_.empty()) return;
    // What a profile shows of communication: the time a rank waits for its all-reduces to finish.
    const Tensor& t = staged_.defined() ? staged_ : target_;
    const profile::OpScope prof("all_reduce_wait", {&t}, [&] {
      return profile::Cost{0, static_cast<double>(t.numel() * static_cast<int64_t>(dtype_size(t.dtype()))), 0};
    });
    mpi_check(MPI_Waitall(static_cast<int>(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE), "Waitall");
    requests_.clear();
    if (staged_.defined()) target_.copy_(staged_);  // a CUDA tensor reduced through the host
  }

 private:
  std::vector<MPI_Request> requests_;
  Tensor staged_, target_;
};

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator() {
    int provided = 0;
    // Only the main thread calls MPI (loader and OpenMP threads never do).
    mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "Init_thread");
    mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "Comm_dup");
    // Errors come back as codes (turned into wb::Error), not MPI's default abort without a message.
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm node;
    mpi_check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node), "Comm_split_type");
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_free(&node);
  }
  ~MpiCommunicator() override {
    nccl::destroy(nccl_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  void all_reduce_sum(Tensor& t) override { all_reduce_sum_async(t)->wait(); }

  std::unique_ptr<Pending> all_reduce_sum_async(Tensor& t) override {
    check_reducible(t, "all_reduce_sum");
    if (t.device().is_cuda() && nccl::available()) {
      // Stream-ordered on the engine's stream: later kernels see the sum, the host need not wait.
      nccl::all_reduce_sum(nccl_comm(t.device().index), t.raw_data(), t.numel(), t.dtype() == DType::F64,
                           t.device().index);
      return std::make_unique<Done>();
    }
    Tensor staged = t.device().is_cuda() ? t.to(Device::cpu()) : Tensor();
    Tensor& host = staged.defined() ? staged : t;
    std::vector<MPI_Request> requests;
    const auto elem = static_cast<int64_t>(dtype_size(host.dtype()));
    char* base = static_cast<char*>(host.raw_data());
    for (int64_t at = 0; at < host.numel(); at += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, host.numel() - at));
      MPI_Request r;
      mpi_check(MPI_Iallreduce(MPI_IN_PLACE, base + at * elem, count, mpi_type(host), MPI_SUM, comm_, &r),
                "Iallreduce");
      requests.push_back(r);
    }
    return std::make_unique<MpiPending>(std::move(requests), staged, t);
  }

  int64_t all_reduce_max(int64_t value) override {
    long long v = value;
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_LONG_LONG, MPI_MAX, comm_), "Allreduce");
    return v;
  }

  void broadcast(Tensor& t, int root) override {
    check(t.is_contiguous(), "broadcast: the tensor ", t.str(), " is not contiguous");
    Tensor host = t.device().is_cuda() ? t.to(Device::cpu()) : t;
    char* base = static_cast<char*>(host.raw_data());
    const int64_t bytes = host.numel() * static_cast<int64_t>(dtype_size(host.dtype()));
    for (int64_t at = 0; at < bytes; at += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, bytes - at));
      mpi_check(MPI_Bcast(base + at, count, MPI_BYTE, root, comm_), "Bcast");
    }
    if (t.device().is_cuda()) t.copy_(host);
  }

  void broadcast(std::string& bytes, int root) override {
    long long n = static_cast<long long>(bytes.size());
    mpi_check(MPI_Bcast(&n, 1, MPI_LONG_LONG, root, comm_), "Bcast");
    check(n < kMaxCount, "broadcast: ", n, " bytes is more than one message carries");
    bytes.resize(static_cast<size_t>(n));
    mpi_check(MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_BYTE, root, comm_), "Bcast");
  }

  std::vector<std::string> gather(const std::string& bytes, int root) override {
    check(bytes.size() < static_cast<size_t>(kMaxCount), "gather: ", bytes.size(), " bytes is too many");
    int mine = static_cast<int>(bytes.size());
    std::vector<int> counts(static_cast<size_t>(size_));
    mpi_check(MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_), "Gather");
    std::vector<int> offsets(static_cast<size_t>(size_), 0);
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[r] = static_cast<int>(total);
      total += counts[r];
    }
    check(rank_ != root || total < kMaxCount, "gather: ", total, " bytes in all is too many");
    std::string all(static_cast<size_t>(rank_ == root ? total : 0), '\0');
    mpi_check(MPI_Gatherv(bytes.data(), mine, MPI_BYTE, all.data(), counts.data(), offsets.data(), MPI_BYTE, root,
                          comm_),
              "Gatherv");
    std::vector<std::string> out;
    if (rank_ != root) return out;
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(static_cast<size_t>(offsets[r]), counts[r]));
    return out;
  }

  void barrier() override { mpi_check(MPI_Barrier(comm_), "Barrier"); }

 private:
  // NCCL's communicator on the one device this rank uses, made on first use: rank 0 draws the
  // unique id and MPI hands it to the others.
  void* nccl_comm(int device) {
    if (nccl_) {
      check(device == nccl_device_, "all_reduce_sum: NCCL was set up on cuda:", nccl_device_, ", not cuda:", device,
            " (one device per rank)");
      return nccl_;
    }
    std::string id = rank_ == 0 ? nccl::unique_id() : std::string();
    broadcast(id, 0);
    nccl_ = nccl::init(id, size_, rank_, device);
    nccl_device_ = device;
    return nccl_;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  void* nccl_ = nullptr;
  int nccl_device_ = -1;
};

#endif  // WBPOSE_WITH_MPI

}  // namespace

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"}) {
    if (std::getenv(var)) return true;
  }
  return false;
}

Communicator& self() {
  static SingleProcess one;
  return one;
}

Communicator& world() {
  static std::once_flag once;
  static std::unique_ptr<Communicator> job;
  std::call_once(once, [] {
    if (!launched_by_mpi()) return;
#if WBPOSE_WITH_MPI
    job = std::make_unique<MpiCommunicator>();
#else
    fail("this process was started by an MPI launcher, but wbpose was built without MPI (install libopenmpi-dev and "
         "rebuild: scripts/install-deps.sh)");
#endif
  });
  return job ? *job : self();
}

int abort_job(int code) {
#if WBPOSE_WITH_MPI
  if (launched_by_mpi() && world().size() > 1) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
  }
#endif
  return code;
}

}  // namespace wb::dist
