// The human-readable outputs of a search (tasks/search_run.h): results.md, results.csv,
// best_config.json and pareto.png in the output folder, each written atomically from the
// candidates evaluated so far.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tasks/search_run.h"

namespace wb::tasks {

struct SearchReportInfo {
  std::string controller;
  double budget_gflops = 0;
  double min_gflops = 0;  // the budget's floor; 0: none
  int samples = 0;
  uint64_t seed = 0;
};

// `candidates` non-empty, `best` one of them.
void write_search_reports(const std::string& out_dir, const SearchReportInfo& info,
                          const std::vector<SearchCandidate>& candidates, size_t best);

// Indices of the Pareto front (no other candidate has at most its GFLOPs and a higher AP), by GFLOPs.
std::vector<size_t> pareto_front(const std::vector<SearchCandidate>& candidates);

// AP against GFLOPs (the PNG pareto.png).
void write_pareto_plot(const std::string& path, const SearchReportInfo& info,
                       const std::vector<SearchCandidate>& candidates, size_t best);

}  // namespace wb::tasks
