// Writing files so that a reader never sees half a file: write to PATH.tmp.<pid>, flush, rename.
#pragma once
#include <string>
#include <string_view>

namespace wb {

void write_file_atomic(const std::string& path, std::string_view bytes);
std::string read_file(const std::string& path);  // error naming the path if it cannot be read

}  // namespace wb
