#include "tensor/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "tensor/atomic_file.h"

namespace wb {

namespace {

const char* st_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  return "?";
}

bool parse_st_dtype(const std::string& s, DType& out) {
  static const std::pair<const char*, DType> table[] = {{"F32", DType::F32}, {"F64", DType::F64}, {"F16", DType::F16},
                                                        {"BF16", DType::BF16}, {"I32", DType::I32}, {"I64", DType::I64},
                                                        {"U8", DType::U8}};
  for (const auto& [name, t] : table) {
    if (s == name) {
      out = t;
      return true;
    }
  }
  return false;
}

}  // namespace

void save_safetensors(const std::string& path, const TensorMap& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> host;
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    check(t.defined(), "save_safetensors '", path, "': tensor '", name, "' is undefined");
    Tensor c = t.cpu().contiguous();
    const size_t bytes = static_cast<size_t>(c.numel()) * dtype_size(c.dtype());
    header[name] = {{"dtype", st_dtype_name(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(c);
  }
  std::string hs = header.dump();
  while (hs.size() % 8 != 0) hs.push_back(' ');  // align the data section to 8 bytes
  std::string out(8, '\0');
  const uint64_t n = hs.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += hs;
  out.reserve(out.size() + offset);
  for (const Tensor& c : host) {
    out.append(static_cast<const char*>(c.raw_data()), static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  }
  write_file_atomic(path, out);
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string bytes = read_file(path);
  check(bytes.size() >= 8, "safetensors '", path, "': truncated (", bytes.size(), " bytes, no header length)");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  check(n <= bytes.size() - 8, "safetensors '", path, "': header length ", n, " exceeds the file size ", bytes.size());
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception& e) {
    fail("safetensors '", path, "': malformed header: ", e.what());
  }
  check(header.is_object(), "safetensors '", path, "': header is not a JSON object");
  const size_t data_start = 8 + n, data_size = bytes.size() - data_start;
  SafetensorsFile f;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& e = it.value();
    if (name == "__metadata__") {
      check(e.is_object(), "safetensors '", path, "': __metadata__ is not an object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        check(m.value().is_string(), "safetensors '", path, "': __metadata__ value '", m.key(), "' is not a string");
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "safetensors '" + path + "': tensor '" + name + "'";
    check(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"), where,
          ": entry needs dtype, shape and data_offsets");
    check(e["dtype"].is_string(), where, ": dtype is not a string");
    DType t;
    check(parse_st_dtype(e["dtype"].get<std::string>(), t), where, ": unsupported dtype ", e["dtype"].dump());
    check(e["shape"].is_array(), where, ": shape is not an array");
    Shape shape;
    for (const auto& d : e["shape"]) {
      check(d.is_number_integer() && d.get<int64_t>() >= 0, where, ": bad shape ", e["shape"].dump());
      shape.push_back(d.get<int64_t>());
    }
    const auto& off = e["data_offsets"];
    check(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(), where,
          ": bad data_offsets ", off.dump());
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    check(b <= en && en <= data_size, where, ": data_offsets [", b, ", ", en, ") outside the ", data_size,
          "-byte data section (truncated file?)");
    uint64_t expected = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(with_context(where, [&] { return numel_of(shape); })),
                               static_cast<uint64_t>(dtype_size(t)), &expected))
      fail(where, ": shape ", shape_str(shape), " ", dtype_name(t), " has more bytes than a file can hold");
    check(en - b == expected, where, ": ", en - b, " bytes for shape ", shape_str(shape), " ", dtype_name(t),
          " (expected ", expected, ")");
    ranges.emplace_back(b, en);
    Tensor out = Tensor::empty(shape, t, Device::cpu());
    if (expected) std::memcpy(out.raw_data(), bytes.data() + data_start + b, expected);
    f.tensors[name] = out;
  }
  // The format's rule: the tensors' byte ranges tile the data section exactly, with no gap, overlap
  // or trailing byte (a shifted or padded section would load every later tensor from wrong bytes).
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [b, e] : ranges) {
    check(b >= covered, "safetensors '", path, "': overlapping tensor data ranges");
    check(b == covered, "safetensors '", path, "': ", b - covered, " bytes at data offset ", covered,
          " belong to no tensor");
    covered = e;
  }
  check(covered == data_size, "safetensors '", path, "': the data section has ", data_size, " bytes but the tensors end at ",
        covered, " (trailing bytes)");
  return f;
}

Tensor expect_tensor(const SafetensorsFile& f, const std::string& path, const std::string& name, const Shape& shape,
                     DType dtype) {
  auto it = f.tensors.find(name);
  check(it != f.tensors.end(), "safetensors '", path, "': no tensor '", name, "'");
  const Tensor& t = it->second;
  check(t.dtype() == dtype, "safetensors '", path, "': tensor '", name, "' has dtype ", dtype_name(t.dtype()),
        ", expected ", dtype_name(dtype));
  if (!shape.empty())
    check(t.shape() == shape, "safetensors '", path, "': tensor '", name, "' has shape ", shape_str(t.shape()),
          ", expected ", shape_str(shape));
  return t;
}

}  // namespace wb
