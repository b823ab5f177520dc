// What the training tests share: options for a silent run into a folder, and reading a file whole
// or a run's checkpoint tensors (to compare runs byte for byte).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
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

// The bytes of the tensors file a run folder's checkpoint.json points at (nn/checkpoint.h).
inline std::string checkpoint_tensors(const std::filesystem::path& run) {
  const auto j = nlohmann::json::parse(slurp(run / "checkpoint.json"));
  return slurp(run / j.at("tensors").get<std::string>());
}

}  // namespace wb::test
