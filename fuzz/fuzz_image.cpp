// Fuzz target: the image decoder, decode_image (datasets/image.h: stb_image behind our checks), as
// the data pipeline calls it (3 channels).
// Property: a decoded image has a positive size and width x height x 3 bytes.
// Seeds (WBPOSE_FUZZ_WRITE_SEEDS): small PNGs (grey, RGB, RGBA) and JPEGs from our encoders.
//
// fuzz-instrument: datasets/image.cpp datasets/image_guard.cpp
#include "datasets/image.h"
#include "fuzz/common.h"

using namespace wb;

namespace {

void write_seeds() {
  for (int channels : {1, 3, 4}) {
    data::Image img(7, 5, channels);
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 37 + channels);
    fuzz::write_seed("c" + std::to_string(channels) + ".png", data::encode_png(img));
    if (channels != 4) fuzz::write_seed("c" + std::to_string(channels) + ".jpg", data::encode_jpeg(img, 80));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (fuzz::seed_dir()) {
    write_seeds();
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  data::Image img;
  if (!fuzz::expect_clean_errors([&] { img = data::decode_image(fuzz::as_text(data, size), "fuzz.img", 3); }))
    return 0;
  fuzz::require(img.width > 0 && img.height > 0 && img.channels == 3 &&
                    img.pixels.size() == static_cast<size_t>(img.width) * img.height * 3,
                "decode_image: the image's size and its bytes disagree");
  return 0;
}
