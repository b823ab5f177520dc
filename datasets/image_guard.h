// Checks of a JPEG or PNG file's structure made before stb_image sees it, for inputs that Debian's
// stb_image 2.27 mishandles (found by fuzzing, bench/results/robustness.md):
//   - a JPEG Huffman table (DHT) whose 16 code counts add up to more than 256 makes stb write up to
//     4 KB past its tables (stb 2.28 rejects it: "bad size list");
//   - a zero-length PNG IDAT chunk makes stb call memcpy(NULL, src, 0), undefined behaviour that
//     lets the compiler drop stb's own null checks;
//   - a PNG chunk declaring more bytes than the file holds makes stb allocate that much (2 GB)
//     before it finds the data missing.
// Both are refused with an error naming the file; anything else is left to stb.
#pragma once
#include <string>
#include <string_view>

namespace wb::data {

void check_image_structure(std::string_view bytes, const std::string& name);

}  // namespace wb::data
