#include "tasks/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "tensor/error.h"

namespace wb::tasks {

namespace fs = std::filesystem;

RunFolderLock::RunFolderLock(const fs::path& dir) {
  const std::string path = (dir / "run.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  check(fd_ >= 0, path, ": cannot open the run folder's lock: ", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    check(err != EWOULDBLOCK, dir.string(), ": another process is training into this folder (", path, " is held)");
    fail(path, ": cannot lock the run folder: ", std::strerror(err));
  }
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock; the file stays, harmless and reused
}

void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at + 5 == name.size()) continue;
    if (name.find_first_not_of("0123456789", at + 5) != std::string::npos) continue;
    if (entry.is_regular_file(ec)) fs::remove(entry.path(), ec);
  }
}

namespace {

bool may_change_on_resume(const std::string& path) {
  static const std::array<const char*, 4> free = {"train.epochs", "data.root", "data.workers", "eval"};
  for (const char* f : free) {
    const size_t n = std::strlen(f);
    if (path.compare(0, n, f) == 0 && (path.size() == n || path[n] == '.' || path[n] == '[')) return true;
  }
  return false;
}

// The first leaf (in the recorded config's key order, then the new config's new keys) whose value
// differs, outside the fields that may change; empty when none.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path) {
  if (may_change_on_resume(path)) return "";
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string sub = path.empty() ? it.key() : path + "." + it.key();
      const std::string d = first_difference(it.value(), b.contains(it.key()) ? b.at(it.key()) : nlohmann::json(), sub);
      if (!d.empty()) return d;
    }
    for (auto it = b.begin(); it != b.end(); ++it) {
      const std::string sub = path.empty() ? it.key() : path + "." + it.key();
      if (!a.contains(it.key()) && !may_change_on_resume(sub)) return sub;
    }
    return "";
  }
  return a == b ? "" : (path.empty() ? "(the whole config)" : path);
}

std::string value_at(const nlohmann::json& j, const std::string& path) {
  const nlohmann::json* at = &j;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object() || !at->contains(key)) return "absent";
    at = &at->at(key);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  std::string s = at->dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

void check_resume_config(const nlohmann::json& recorded, const nlohmann::json& now, const std::string& where) {
  const std::string d = first_difference(recorded, now, "");
  check(d.empty(), where, ": the run was started with ", d, " = ", value_at(recorded, d), ", resuming with ",
        value_at(now, d), " (only train.epochs, data.root, data.workers and eval.* may change on --resume; start a ",
        "new --out to train with another config)");
}

}  // namespace wb::tasks
