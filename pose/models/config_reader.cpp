#include "pose/models/config_reader.h"

#include <limits>

#include "tensor/error.h"

namespace wb::pose {

ConfigReader::ConfigReader(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {
  check(j_.is_object(), where_, ": a config must be a JSON object, got ", j_.type_name());
}

const nlohmann::json* ConfigReader::find(const std::string& key) {
  seen_.insert(key);
  const auto it = j_.find(key);
  return it == j_.end() ? nullptr : &*it;
}

void ConfigReader::fail_field(const std::string& key, const std::string& why) const {
  fail(where_, ": field \"", key, "\": ", why);
}

void ConfigReader::get(const std::string& key, int64_t& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_number_integer()) fail_field(key, std::string("expected an integer, got ") + v->type_name());
  out = v->get<int64_t>();
}

void ConfigReader::get(const std::string& key, int& out) {
  int64_t v = out;
  get(key, v);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    fail_field(key, "integer " + std::to_string(v) + " is out of range");
  }
  out = static_cast<int>(v);
}

void ConfigReader::get(const std::string& key, double& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_number()) fail_field(key, std::string("expected a number, got ") + v->type_name());
  out = v->get<double>();
}

void ConfigReader::get(const std::string& key, bool& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_boolean()) fail_field(key, std::string("expected true or false, got ") + v->type_name());
  out = v->get<bool>();
}

const nlohmann::json* ConfigReader::section(const std::string& key) {
  const nlohmann::json* v = find(key);
  if (v && !v->is_object()) fail_field(key, std::string("expected an object, got ") + v->type_name());
  return v;
}

void ConfigReader::get(const std::string& key, std::string& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_string()) fail_field(key, std::string("expected a string, got ") + v->type_name());
  out = v->get<std::string>();
}

void ConfigReader::get(const std::string& key, std::vector<int64_t>& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_array()) fail_field(key, std::string("expected an array of integers, got ") + v->type_name());
  std::vector<int64_t> r;
  for (const auto& e : *v) {
    if (!e.is_number_integer()) fail_field(key, std::string("expected an array of integers, found ") + e.type_name());
    r.push_back(e.get<int64_t>());
  }
  out = std::move(r);
}

void ConfigReader::get(const std::string& key, std::vector<bool>& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_array()) fail_field(key, std::string("expected an array of true/false, got ") + v->type_name());
  std::vector<bool> r;
  for (const auto& e : *v) {
    if (!e.is_boolean()) fail_field(key, std::string("expected an array of true/false, found ") + e.type_name());
    r.push_back(e.get<bool>());
  }
  out = std::move(r);
}

void ConfigReader::get(const std::string& key, std::vector<std::string>& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_array()) fail_field(key, std::string("expected an array of strings, got ") + v->type_name());
  std::vector<std::string> r;
  for (const auto& e : *v) {
    if (!e.is_string()) fail_field(key, std::string("expected an array of strings, found ") + e.type_name());
    r.push_back(e.get<std::string>());
  }
  out = std::move(r);
}

void ConfigReader::get(const std::string& key, nlohmann::json& out) {
  const nlohmann::json* v = find(key);
  if (!v) return;
  if (!v->is_object()) fail_field(key, std::string("expected an object, got ") + v->type_name());
  out = *v;
}

void ConfigReader::finish() const {
  for (const auto& [key, value] : j_.items()) {
    if (!seen_.count(key)) fail(where_, ": unknown field \"", key, "\"");
  }
}

}  // namespace wb::pose
