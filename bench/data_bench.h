// wbpose-bench data: throughput of the top-down sample pipeline (datasets/) on generated JPEGs,
// per core and through the threaded loader, at 256x192 and 384x288 with 133 whole-body keypoints.
#pragma once
#include <string>

namespace wb::bench {

struct DataBenchOptions {
  int samples = 200;    // samples per measurement
  int workers = 0;      // loader threads for the scaling row; 0: one per hardware thread
  int images = 16;      // distinct generated images (640x480 JPEG, four people each)
  std::string out_md;   // Markdown table written here when set
};

int run_data_benchmark(const DataBenchOptions& opt);

}  // namespace wb::bench
