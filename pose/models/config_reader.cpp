#include "pose/models/config_reader.h"

#include <limits>

#include "tensor/error.h"
#include "tensor/json_int.h"

namespace wb::pose {

namespace {

// A value as the error quotes it: its JSON, cut short (a whole nested object is noise on one line).
std::string excerpt(const nlohmann::json& v) {
  std::string s = v.dump();
  return s.size() <= 40 ? s : s.substr(0, 37) + "...";
}

}  // namespace

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
  const std::optional<int64_t> i = json_int64(*v);
  if (!i) fail_field(key, "expected an integer of at most 2^63 - 1, got " + excerpt(*v));
  out = *i;
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
    const std::optional<int64_t> i = json_int64(e);
    if (!i) fail_field(key, "expected an array of integers of at most 2^63 - 1, found " + excerpt(e));
    r.push_back(*i);
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
