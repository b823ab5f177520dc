#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wb {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
Shape contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3, 4]"

}  // namespace wb
