#include "tensor/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace wb {

void write_file_atomic(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  check(f != nullptr, "cannot write '", path, "': ", std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                  ::fsync(::fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    fail("cannot write '", path, "': ", std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    fail("cannot move '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

void check_can_create(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target = fs::absolute(fs::path(path), ec);
  check(!ec, what, " ", path, ": ", ec.message());
  // An existing file is replaced within its folder, an existing folder is written into; otherwise
  // the nearest ancestor that exists must be a folder we may write in (the rest is created).
  fs::path dir = target;
  if (fs::exists(target, ec) && !fs::is_directory(target, ec)) dir = target.parent_path();
  while (!fs::exists(dir, ec) && dir.has_parent_path() && dir != dir.parent_path()) dir = dir.parent_path();
  check(fs::is_directory(dir, ec), what, " ", path, ": ", dir.string(), " is not a folder");
  check(::access(dir.c_str(), W_OK | X_OK) == 0, what, " ", path, ": cannot write in ", dir.string(), " (",
        std::strerror(errno), ")");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "cannot open '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  check(!in.bad(), "error reading '", path, "'");
  return ss.str();
}

}  // namespace wb
