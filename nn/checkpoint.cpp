#include "nn/checkpoint.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <type_traits>

#include "tensor/atomic_file.h"
#include "tensor/json_int.h"

namespace wb::nn {

namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "wbpose-checkpoint";
constexpr int kVersion = 1;
const std::string kModelPrefix = "model.";
const std::string kOptimizerPrefix = "optimizer.";

namespace fs = std::filesystem;

std::string json_path(const std::string& prefix) { return prefix + ".json"; }
std::string stem_of(const std::string& prefix) { return fs::path(prefix).filename().string(); }

// The tensors file of one save, named after its progress: a save never overwrites the file that
// the current JSON points at (a second save at the same progress rewrites a file of equal
// metadata, which the JSON matches either way).
std::string tensors_name(const std::string& prefix, const TrainProgress& p) {
  return stem_of(prefix) + ".e" + std::to_string(p.epoch) + "-i" + std::to_string(p.iteration) + ".safetensors";
}

// True for "<stem>.e<digits>-i<digits>.safetensors" and the version-1 name "<stem>.safetensors".
bool is_tensors_name(const std::string& name, const std::string& stem) {
  const std::string ext = ".safetensors";
  if (name == stem + ext) return true;
  if (name.size() <= stem.size() + ext.size() || name.compare(0, stem.size() + 2, stem + ".e") != 0 ||
      name.compare(name.size() - ext.size(), ext.size(), ext) != 0)
    return false;
  const std::string mid = name.substr(stem.size() + 2, name.size() - stem.size() - 2 - ext.size());
  const size_t dash = mid.find("-i");
  const auto digits = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  };
  return dash != std::string::npos && digits(mid.substr(0, dash)) && digits(mid.substr(dash + 2));
}

// Test hook (tests/train_cli_test.sh): with WBPOSE_TEST_HOLD_CHECKPOINT=FILE a save stops between
// writing its tensors and the JSON that commits them, creates FILE and waits to be killed, so that
// a test can SIGKILL a run inside that window deterministically.
void hold_for_test() {
  const char* marker = std::getenv("WBPOSE_TEST_HOLD_CHECKPOINT");
  if (marker == nullptr || *marker == '\0') return;
  write_file_atomic(marker, "");
  for (;;) ::pause();
}

// The strict name, shape and dtype check of Module::load_state_dict, without loading anything.
void check_model_state(const Module& model, const TensorMap& state, const std::string& path) {
  std::set<std::string> names;
  for (const auto& [name, t] : model.state_dict()) {
    names.insert(name);
    const auto it = state.find(name);
    check(it != state.end(), path, ": the model's tensor \"", name, "\" is missing (", kModelPrefix, name, ")");
    const std::string why = state_mismatch(it->second, t);
    check(why.empty(), path, ": tensor \"", kModelPrefix, name, "\": ", why);
  }
  for (const auto& [name, _] : state)
    check(names.count(name), path, ": tensor \"", kModelPrefix, name, "\" is not in the model");
}

template <class T>
T field(const json& j, const char* key, const std::string& path) {
  check(j.contains(key), path, ": missing field \"", key, "\"");
  const json& v = j.at(key);
  const auto wrong = [&] { fail(path, ": field \"", key, "\" has the wrong type (", v.dump().substr(0, 40), ")"); };
  if constexpr (std::is_integral_v<T>) {
    // Integers exactly: 2.5 is not an epoch, and 2^64 - 1 is not -1.
    const std::optional<int64_t> i = json_int64(v);
    if (!i || *i < std::numeric_limits<T>::min() || *i > std::numeric_limits<T>::max()) wrong();
    return static_cast<T>(*i);
  } else {
    if (!v.is_string()) wrong();
    return v.get<T>();
  }
}

}  // namespace

void save_checkpoint(const std::string& prefix, const Module& model, const Optimizer& optimizer, const Generator& rng,
                     const TrainProgress& progress) {
  check(progress.epoch >= 0 && progress.iteration >= 0, "save_checkpoint ", prefix, ": negative progress (epoch ",
        progress.epoch, ", iteration ", progress.iteration, ")");
  TensorMap tensors;
  for (const auto& [name, t] : model.state_dict()) tensors.emplace(kModelPrefix + name, t);
  for (const auto& [name, t] : optimizer.state_dict()) tensors.emplace(kOptimizerPrefix + name, t);
  const std::string epoch = std::to_string(progress.epoch), iteration = std::to_string(progress.iteration);
  const std::string name = tensors_name(prefix, progress);
  save_safetensors((fs::path(prefix).parent_path() / name).string(), tensors,
                   {{"format", kFormat}, {"epoch", epoch}, {"iteration", iteration}});
  hold_for_test();

  const json j = {{"format", kFormat},
                  {"version", kVersion},
                  {"epoch", progress.epoch},
                  {"iteration", progress.iteration},
                  {"optimizer", optimizer.name()},
                  {"rng", rng.state()},
                  {"tensors", name}};
  write_file_atomic(json_path(prefix), j.dump(2) + "\n");  // the commit
  remove_stale_checkpoint_files(prefix);
}

void remove_stale_checkpoint_files(const std::string& prefix) {
  const fs::path dir = fs::path(prefix).parent_path().empty() ? fs::path(".") : fs::path(prefix).parent_path();
  const std::string stem = stem_of(prefix);
  std::string keep;
  try {
    const json j = json::parse(read_file(json_path(prefix)));
    if (j.is_object() && j.contains("tensors") && j["tensors"].is_string()) keep = j["tensors"].get<std::string>();
  } catch (const std::exception&) {
    return;  // no readable checkpoint: nothing is known to be stale
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name != keep && is_tensors_name(name, stem)) fs::remove(entry.path(), ec);
  }
}

TrainProgress load_checkpoint(const std::string& prefix, Module& model, Optimizer& optimizer, Generator& rng) {
  const std::string jpath = json_path(prefix);
  json j;
  try {
    j = json::parse(read_file(jpath));
  } catch (const json::exception& e) {
    fail(jpath, ": malformed JSON: ", e.what());
  }
  check(j.is_object(), jpath, ": expected a JSON object");
  check(field<std::string>(j, "format", jpath) == kFormat, jpath, ": field \"format\" is not \"", kFormat, "\"");
  const int version = field<int>(j, "version", jpath);
  check(version == kVersion, jpath, ": field \"version\" is ", version, ", this build reads ", kVersion);
  TrainProgress progress{field<int64_t>(j, "epoch", jpath), field<int64_t>(j, "iteration", jpath)};
  check(progress.epoch >= 0 && progress.iteration >= 0, jpath, ": negative \"epoch\" or \"iteration\"");
  const auto opt_name = field<std::string>(j, "optimizer", jpath);
  check(opt_name == optimizer.name(), jpath, ": field \"optimizer\" is \"", opt_name, "\", resuming with \"",
        optimizer.name(), "\"");
  Generator restored;
  const auto rng_state = field<std::string>(j, "rng", jpath);
  with_context(jpath + " (field \"rng\")", [&] { restored.set_state(rng_state); });

  const std::string tensors = field<std::string>(j, "tensors", jpath);
  check(is_tensors_name(tensors, stem_of(prefix)), jpath, ": field \"tensors\" (\"", tensors,
        "\") is not a checkpoint tensors file of this folder");
  const std::string wpath = (fs::path(jpath).parent_path() / tensors).string();
  const SafetensorsFile file = load_safetensors(wpath);
  for (const char* key : {"epoch", "iteration"}) {
    const auto it = file.metadata.find(key);
    const std::string expected = std::to_string(key == std::string("epoch") ? progress.epoch : progress.iteration);
    check(it != file.metadata.end() && it->second == expected, wpath, ": metadata \"", key, "\" is ",
          it == file.metadata.end() ? std::string("absent") : "\"" + it->second + "\"", " but ", jpath, " says ",
          expected, " (the two files come from different saves)");
  }

  TensorMap model_state, optimizer_state;
  for (const auto& [name, t] : file.tensors) {
    if (name.rfind(kModelPrefix, 0) == 0) {
      model_state.emplace(name.substr(kModelPrefix.size()), t);
    } else if (name.rfind(kOptimizerPrefix, 0) == 0) {
      optimizer_state.emplace(name.substr(kOptimizerPrefix.size()), t);
    } else {
      fail(wpath, ": tensor \"", name, "\" is neither \"", kModelPrefix, "*\" nor \"", kOptimizerPrefix, "*\"");
    }
  }
  check_model_state(model, model_state, wpath);
  // The optimizer validates everything before it changes anything; after it nothing can fail.
  with_context(wpath, [&] { optimizer.load_state_dict(optimizer_state); });
  model.load_state_dict(model_state, /*strict=*/true);
  rng = restored;
  return progress;
}

void save_weights(const std::string& path, const Module& model) {
  save_safetensors(path, to_tensor_map(model.state_dict()));
}

LoadResult load_weights(const std::string& path, Module& model, bool strict) {
  const SafetensorsFile file = load_safetensors(path);
  return with_context(path, [&] { return model.load_state_dict(file.tensors, strict); });
}

}  // namespace wb::nn
