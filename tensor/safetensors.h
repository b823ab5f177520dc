// safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw little-endian data. PyTorch users read and write it with the
// `safetensors` package; our checkpoints and test fixtures use it.
#pragma once
#include <map>
#include <string>

#include "tensor/tensor.h"

namespace wb {

using TensorMap = std::map<std::string, Tensor>;  // ordered: files come out byte-identical

struct SafetensorsFile {
  TensorMap tensors;                            // CPU tensors, contiguous
  std::map<std::string, std::string> metadata;  // the optional "__metadata__" string map
};

// Writes atomically. Tensors may live on any device and have any view geometry.
void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata = {});
// Rejects a truncated file, a malformed header, overlapping or out-of-range data offsets, an
// unknown dtype, or a byte range that does not match dtype x shape, naming the file and tensor.
SafetensorsFile load_safetensors(const std::string& path);

// The tensor `name` of a loaded file, checked against the expected shape and dtype
// (an empty shape means any); errors name the file and the tensor.
Tensor expect_tensor(const SafetensorsFile& f, const std::string& path, const std::string& name,
                     const Shape& shape = {}, DType dtype = DType::F32);

}  // namespace wb
