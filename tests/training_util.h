// What the training tests share: options for a silent run into a folder, and reading a file whole
// (to compare runs byte for byte).
#pragma once
#include <filesystem>
#include <string>

#include "tasks/trainer.h"
#include "tensor/atomic_file.h"

namespace wb::test {

inline tasks::TrainOptions quiet(const std::filesystem::path& out, bool resume = false) {
  tasks::TrainOptions o;
  o.out_dir = out.string();
  o.resume = resume;
  o.verbose = false;
  return o;
}

inline std::string slurp(const std::filesystem::path& p) { return read_file(p.string()); }

}  // namespace wb::test
