// Writing files so that a reader never sees half a file: write to PATH.tmp.<pid>, flush, rename.
#pragma once
#include <string>
#include <string_view>

namespace wb {

void write_file_atomic(const std::string& path, std::string_view bytes);
std::string read_file(const std::string& path);  // error naming the path if it cannot be read

// Checks, before any work, that `path` (a file or folder to be written, which may not exist yet)
// can be created: its nearest existing ancestor is a writable folder. `what` names it in the
// error ("--out").
void check_can_create(const std::string& path, const std::string& what);

}  // namespace wb
