// Reading a model config from JSON under the project's rule: every field has a default (the
// struct's initial value), a present field must have the right type, and an unknown field is an
// error naming it. Errors name the source ("configs/hrnet_w32_coco_256x192.json") and the field.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace wb::pose {

class ConfigReader {
 public:
  // `where` names the source in errors; j must be an object.
  ConfigReader(const nlohmann::json& j, std::string where);

  // Each leaves `out` untouched when `key` is absent.
  void get(const std::string& key, int64_t& out);
  void get(const std::string& key, int& out);
  void get(const std::string& key, double& out);  // an integer is accepted too
  void get(const std::string& key, bool& out);
  void get(const std::string& key, std::string& out);
  void get(const std::string& key, std::vector<int64_t>& out);
  void get(const std::string& key, std::vector<bool>& out);
  void get(const std::string& key, std::vector<std::string>& out);
  // A nested object (e.g. a sub-model's config), left for its own reader.
  void get(const std::string& key, nlohmann::json& out);
  template <size_t N>
  void get(const std::string& key, std::array<int64_t, N>& out) {
    std::vector<int64_t> v(out.begin(), out.end());
    get(key, v);
    if (v.size() != N) fail_field(key, "expected " + std::to_string(N) + " integers, got " + std::to_string(v.size()));
    std::copy(v.begin(), v.end(), out.begin());
  }
  // A nested section read by a reader of its own; nullptr when absent, error when not an object.
  const nlohmann::json* section(const std::string& key);
  // A field known to the caller but read elsewhere (e.g. "type", read by the factory).
  void skip(const std::string& key) { seen_.insert(key); }
  // Raises on the first field no get()/skip() asked for.
  void finish() const;

  [[noreturn]] void fail_field(const std::string& key, const std::string& why) const;
  const std::string& where() const { return where_; }

 private:
  const nlohmann::json* find(const std::string& key);

  const nlohmann::json& j_;
  std::string where_;
  std::set<std::string> seen_;
};

}  // namespace wb::pose
