// Fuzz target: the safetensors reader, load_safetensors (tensor/safetensors.h). It reads a path, so
// each input is written to a scratch file first.
// Properties of a file that loads cleanly:
//   - every tensor's element count is the product of its dimensions without overflow, and its
//     bytes are that count times the dtype's size (safetensors.h: a byte range that does not match
//     dtype x shape is rejected);
//   - the tensors' byte ranges tile the data section exactly: no gap, nothing after the last one
//     (the safetensors format; ranges never overlap, so their sizes add up to the section's);
//   - saved again with save_safetensors, it loads to the same tensors (names, dtypes, shapes,
//     bytes) and metadata.
// Seeds (WBPOSE_FUZZ_WRITE_SEEDS): files from save_safetensors covering every dtype, a 0-d and an
// empty tensor, with and without metadata.
//
// fuzz-instrument: tensor/safetensors.cpp
#include <cstdint>
#include <cstring>

#include "fuzz/common.h"
#include "tensor/safetensors.h"

using namespace wb;

namespace {

void write_seeds() {
  TensorMap all;
  all["f32"] = Tensor::from_vector(std::vector<double>{1.5, -2, 0, 3.25, 1e-3, 7}, {2, 3}, DType::F32);
  all["f64"] = Tensor::from_vector(std::vector<double>{0.1, -0.2}, {2}, DType::F64);
  all["f16"] = Tensor::from_vector(std::vector<double>{1, -1, 0.5}, {3, 1}, DType::F16);
  all["bf16"] = Tensor::from_vector(std::vector<double>{2, 4}, {1, 2}, DType::BF16);
  all["i32"] = Tensor::from_vector(std::vector<double>{-7}, {}, DType::I32);  // 0-d
  all["i64"] = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 1, 2}, DType::I64);
  all["u8"] = Tensor::from_vector(std::vector<double>{0, 255, 16}, {3}, DType::U8);
  all["empty"] = Tensor::empty({0, 4}, DType::F32);
  const std::string dir = fuzz::seed_dir();
  save_safetensors(dir + "/all_dtypes.safetensors", all, {{"format", "pt"}, {"note", "fuzz seed"}});
  TensorMap one;
  one["weight"] = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::F32);
  save_safetensors(dir + "/one_tensor.safetensors", one);
  save_safetensors(dir + "/no_tensors.safetensors", {}, {{"epoch", "3"}});
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const size_t n = static_cast<size_t>(a.numel()) * dtype_size(a.dtype());
  return n == 0 || std::memcmp(a.raw_data(), b.raw_data(), n) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (fuzz::seed_dir()) {
    write_seeds();
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in = fuzz::Scratch::get().file("in.safetensors");
  const std::string out = fuzz::Scratch::get().file("written.safetensors");
  fuzz::write_bytes(in, fuzz::as_text(data, size));
  SafetensorsFile f;
  if (!fuzz::expect_clean_errors([&] { f = load_safetensors(in); })) return 0;

  uint64_t header = 0;  // a clean load had 8 bytes of header length and that much header
  for (int i = 0; i < 8; ++i) header |= static_cast<uint64_t>(data[i]) << (8 * i);
  const uint64_t data_section = size - 8 - header;
  uint64_t total = 0;
  for (const auto& [name, t] : f.tensors) {
    uint64_t count = 1;
    bool overflow = false;
    for (int64_t d : t.shape())
      overflow = overflow || d < 0 || __builtin_mul_overflow(count, static_cast<uint64_t>(d), &count);
    if (overflow || count > static_cast<uint64_t>(INT64_MAX))
      fuzz::property_failed("load_safetensors accepted tensor '" + name + "' of shape " + shape_str(t.shape()) +
                            ": its element count overflows int64");
    if (count != static_cast<uint64_t>(t.numel())) fuzz::property_failed("tensor '" + name + "': numel is not its shape's");
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(dtype_size(t.dtype())), &bytes) ||
        __builtin_add_overflow(total, bytes, &total))
      fuzz::property_failed("tensor '" + name + "': its byte count overflows");
  }
  if (total != data_section)
    fuzz::property_failed("load_safetensors accepted a data section of " + std::to_string(data_section) +
                          " bytes that its tensors (" + std::to_string(total) + " bytes) do not tile exactly");
  try {
    save_safetensors(out, f.tensors, f.metadata);
    const SafetensorsFile g = load_safetensors(out);
    bool equal = g.metadata == f.metadata && g.tensors.size() == f.tensors.size();
    for (auto a = f.tensors.cbegin(), b = g.tensors.cbegin(); equal && a != f.tensors.cend(); ++a, ++b)
      equal = a->first == b->first && same_bytes(a->second, b->second);
    fuzz::require(equal, "save_safetensors: a loaded file, saved again, loads different");
  } catch (const std::exception& e) {
    fuzz::property_failed(std::string("a loaded file, saved again, does not load: ") + e.what());
  }
  return 0;
}
