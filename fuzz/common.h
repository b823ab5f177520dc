// Shared by the libFuzzer targets in fuzz/ (scripts/fuzz.sh builds and runs them; its header says how).
//
// Each target feeds its input to one reader and treats an exception derived from std::exception
// (wb::Error, and the JSON library's errors where a reader lets them through) as the clean rejection
// that the reader documents. Everything else is left to surface: a crash, an abort, a sanitizer
// report, a leak, a hang past -timeout, memory past -rss_limit_mb. Where a reader documents more
// (a writer's output reads back to the same value, a failed load changes nothing), the target checks
// it too and aborts with a message naming the property when it does not hold.
//
// Seeds: with WBPOSE_FUZZ_WRITE_SEEDS=DIR in the environment, a target that makes its own seeds
// (from our writers) writes them into DIR and exits instead of fuzzing.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>

namespace wb::fuzz {

template <class F>
bool expect_clean_errors(F&& f) {
  try {
    f();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

// A property the reader documents does not hold: report it the way libFuzzer reports a crash.
[[noreturn]] inline void property_failed(const std::string& what) {
  std::fprintf(stderr, "\n==wbpose-fuzz== PROPERTY FAILED: %s\n", what.c_str());
  std::abort();
}
inline void require(bool ok, const char* what) {
  if (!ok) property_failed(what);
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A private folder for the files a reader has to be given by path: in /dev/shm when it is usable
// (no disk traffic), else $TMPDIR or /tmp. Removed at normal exit (a crashing run leaves it behind).
class Scratch {
 public:
  static const Scratch& get() {
    static const Scratch s;
    return s;
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  Scratch() {
    std::string base = "/dev/shm";
    if (::access(base.c_str(), W_OK) != 0) {
      const char* t = std::getenv("TMPDIR");
      base = t && *t ? t : "/tmp";
    }
    std::string templ = base + "/wbpose-fuzz-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::perror("wbpose-fuzz: mkdtemp");
      std::abort();
    }
    dir_ = templ;
    static std::filesystem::path to_remove;
    to_remove = dir_;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
  }
  std::filesystem::path dir_;
};

// Plain write (the readers under test read whole files; no atomic rename needed per input).
inline void write_bytes(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::perror(("wbpose-fuzz: cannot write " + path).c_str());
    std::abort();
  }
}

// The seed folder when seeds are asked for (WBPOSE_FUZZ_WRITE_SEEDS), else nullptr.
inline const char* seed_dir() {
  const char* d = std::getenv("WBPOSE_FUZZ_WRITE_SEEDS");
  return d && *d ? d : nullptr;
}
inline void write_seed(const std::string& name, std::string_view bytes) {
  std::filesystem::create_directories(seed_dir());
  write_bytes((std::filesystem::path(seed_dir()) / name).string(), bytes);
}

}  // namespace wb::fuzz
