// Fuzz target: the model-config readers, on a file: read_model_config (tasks/train_config.h: a model
// config, or a training config's "model"; wbpose-info) and read_model_spec (tasks/model_spec.h: the
// family from "type", the model built, the codec; wbpose-eval run and wbpose-infer).
//
// A config may legitimately ask for a model of any size, and building one allocates and zero-fills
// its weights. To keep every input fast and inside -rss_limit_mb, this target gives each input a
// budget of kBudgetBytes of tensor storage: beyond it, aligned_alloc (the tensors' host allocator,
// tensor/storage.cpp) returns nullptr, which the library reports as a wb::Error ("out of host
// memory"), a clean rejection. The library itself sets no bound; that is the harness's choice.
//
// fuzz-instrument: tasks/model_spec.cpp pose/models/factory.cpp pose/models/config_reader.cpp tasks/train_config.cpp pose/models/hrnet.cpp
#include <atomic>
#include <cstdlib>

#include "fuzz/common.h"
#include "tasks/model_spec.h"
#include "tasks/train_config.h"

using namespace wb;

namespace {

constexpr size_t kBudgetBytes = size_t{64} << 20;
std::atomic<bool> budget_on{false};
std::atomic<size_t> budget_used{0};

}  // namespace

// AddressSanitizer's own aligned_alloc (ours replaces its weak alias of the same name).
extern "C" void* __interceptor_aligned_alloc(size_t alignment, size_t size);

extern "C" void* aligned_alloc(size_t alignment, size_t size) {
  if (budget_on.load(std::memory_order_relaxed) &&
      budget_used.fetch_add(size, std::memory_order_relaxed) + size > kBudgetBytes)
    return nullptr;
  return __interceptor_aligned_alloc(alignment, size);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::Scratch::get().file("config.json");
  fuzz::write_bytes(path, fuzz::as_text(data, size));
  fuzz::expect_clean_errors([&] {
    std::string where;
    (void)tasks::read_model_config(path, &where);
  });
  budget_used = 0;
  budget_on = true;
  fuzz::expect_clean_errors([&] { (void)tasks::read_model_spec(path); });
  budget_on = false;
  return 0;
}
