// Integers read from JSON without silent wrapping or truncation. nlohmann's get<int64_t>() turns
// 18446744073709551615 (stored unsigned) into -1 and 2.5 into 2; every reader of input files asks
// here instead, and names the field in its own error when the answer is empty.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

namespace wb {

// The value when `v` is a JSON integer that int64 holds; empty for anything else (a float, a
// string, an unsigned integer above 2^63 - 1).
inline std::optional<int64_t> json_int64(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

}  // namespace wb
