#include "nn/checkpoint.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "tensor/atomic_file.h"

namespace wb::nn {

namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "wbpose-checkpoint";
constexpr int kVersion = 1;
const std::string kModelPrefix = "model.";
const std::string kOptimizerPrefix = "optimizer.";

std::string weights_path(const std::string& prefix) { return prefix + ".safetensors"; }
std::string json_path(const std::string& prefix) { return prefix + ".json"; }

// Runs f, prefixing any engine error with the file it concerns.
template <class F>
auto naming_file(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

// The strict name and shape check of Module::load_state_dict, without loading anything.
void check_model_state(const Module& model, const TensorMap& state, const std::string& path) {
  std::set<std::string> names;
  for (const auto& [name, t] : model.state_dict()) {
    names.insert(name);
    const auto it = state.find(name);
    check(it != state.end(), path, ": the model's tensor \"", name, "\" is missing (", kModelPrefix, name, ")");
    check(it->second.shape() == t.shape(), path, ": tensor \"", kModelPrefix, name, "\" is ", it->second.str(),
          ", the model's is ", t.str());
  }
  for (const auto& [name, _] : state)
    check(names.count(name), path, ": tensor \"", kModelPrefix, name, "\" is not in the model");
}

template <class T>
T field(const json& j, const char* key, const std::string& path) {
  check(j.contains(key), path, ": missing field \"", key, "\"");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    fail(path, ": field \"", key, "\" has the wrong type (", j.at(key).dump(), ")");
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
  save_safetensors(weights_path(prefix), tensors, {{"format", kFormat}, {"epoch", epoch}, {"iteration", iteration}});

  const json j = {{"format", kFormat},
                  {"version", kVersion},
                  {"epoch", progress.epoch},
                  {"iteration", progress.iteration},
                  {"optimizer", optimizer.name()},
                  {"rng", rng.state()},
                  {"tensors", std::filesystem::path(weights_path(prefix)).filename().string()}};
  write_file_atomic(json_path(prefix), j.dump(2) + "\n");
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
  naming_file(jpath + " (field \"rng\")", [&] { restored.set_state(rng_state); });

  const std::string wpath =
      (std::filesystem::path(jpath).parent_path() / field<std::string>(j, "tensors", jpath)).string();
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
  naming_file(wpath, [&] { optimizer.load_state_dict(optimizer_state); });
  model.load_state_dict(model_state, /*strict=*/true);
  rng = restored;
  return progress;
}

void save_weights(const std::string& path, const Module& model) {
  save_safetensors(path, to_tensor_map(model.state_dict()));
}

LoadResult load_weights(const std::string& path, Module& model, bool strict) {
  const SafetensorsFile file = load_safetensors(path);
  return naming_file(path, [&] { return model.load_state_dict(file.tensors, strict); });
}

}  // namespace wb::nn
