// Page-locked host memory: allocation, reuse through the cache, and copies to and from the GPU.
#include <doctest/doctest.h>

#include "tensor/cuda_runtime.h"
#include "tests/cuda/parity.h"

using namespace wb;

TEST_CASE("parity small: pinned host tensors copy to and from the GPU") {
  if (!test::require_gpu()) return;
  Tensor h = Tensor::empty_pinned({3, 1000});
  CHECK(h.is_pinned());
  for (int64_t i = 0; i < h.numel(); ++i) h.data<float>()[i] = static_cast<float>(i) * 0.5f;
  const Tensor d = h.to(Device::cuda());
  const Tensor back = d.cpu();
  CHECK(back.to_double_vector() == h.to_double_vector());
  const void* first = h.raw_data();
  h = Tensor();  // back to the cache ...
  Tensor again = Tensor::empty_pinned({3, 1000});
  CHECK(again.raw_data() == first);  // ... and handed out again for the same size class
}
