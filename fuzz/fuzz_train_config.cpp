// Fuzz target: the training-config reader, read_train_config (tasks/train_config.h: the file's JSON,
// then parse_train_config), as wbpose-train calls it. It reads a path, so each input is written to a
// scratch file first.
// Property: the config a run folder records (TrainConfig::to_json, read back by wbpose-eval run and
// wbpose-search) reads back to the same config.
//
// fuzz-instrument: tasks/train_config.cpp pose/models/config_reader.cpp tasks/model_spec.cpp pose/models/factory.cpp
#include "fuzz/common.h"
#include "tasks/train_config.h"

using namespace wb;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::Scratch::get().file("train.json");
  fuzz::write_bytes(path, fuzz::as_text(data, size));
  tasks::TrainConfig config;
  if (!fuzz::expect_clean_errors([&] { config = tasks::read_train_config(path); })) return 0;
  nlohmann::json recorded;
  try {
    recorded = config.to_json();
    const tasks::TrainConfig again = tasks::parse_train_config(recorded, "config.json");
    fuzz::require(again.to_json() == recorded, "TrainConfig::to_json: the recorded config reads back different");
  } catch (const std::exception& e) {
    fuzz::property_failed(std::string("the recorded config does not read back: ") + e.what());
  }
  return 0;
}
