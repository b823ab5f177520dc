#include "datasets/image_guard.h"

#include <algorithm>
#include <cstdint>

#include "tensor/error.h"

namespace wb::data {

namespace {

uint8_t at(std::string_view b, size_t i) { return static_cast<uint8_t>(b[i]); }

// One DHT segment's payload: tables of (class/id byte, 16 counts, the counted symbol values).
void check_dht(std::string_view b, size_t begin, size_t end, const std::string& name) {
  size_t p = begin;
  while (p < end) {
    check(p + 17 <= end, "image '", name, "': corrupt JPEG Huffman table (truncated at offset ", p, ")");
    int symbols = 0;
    for (size_t k = 1; k <= 16; ++k) symbols += at(b, p + k);
    check(symbols <= 256, "image '", name, "': corrupt JPEG Huffman table (", symbols,
          " codes, at most 256) at offset ", p);
    p += 17 + static_cast<size_t>(symbols);
  }
  check(p == end, "image '", name, "': corrupt JPEG Huffman table (its values overrun the segment)");
}

// Walks the markers from `start` (after SOI) as stb_image does: bytes other than 0xFF between
// segments and 0xFF fill bytes are skipped; after a scan (SOS) its entropy-coded data runs to the first 0xFF that is followed by
// neither 0x00 (a stuffed byte) nor a restart marker.
void check_jpeg(std::string_view b, size_t start, const std::string& name) {
  const size_t n = b.size();
  size_t i = start;
  while (i + 1 < n) {
    if (at(b, i) != 0xFF) {
      ++i;
      continue;
    }
    while (i + 1 < n && at(b, i + 1) == 0xFF) ++i;
    if (i + 1 >= n) return;
    const uint8_t marker = at(b, i + 1);
    if (marker == 0xD9) return;  // end of image
    if (marker == 0x00 || marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) {
      i += 2;  // no length field
      continue;
    }
    if (i + 4 > n) return;
    const size_t len = static_cast<size_t>(at(b, i + 2)) << 8 | at(b, i + 3);
    if (len < 2) return;  // stb refuses the segment
    // A segment cut by the end of the file is checked as far as it goes (stb reads zeros beyond).
    if (marker == 0xC4) check_dht(b, i + 4, std::min(i + 2 + len, n), name);
    if (i + 2 + len > n) return;
    i += 2 + len;
    if (marker == 0xDA) {  // entropy-coded data up to the next real marker
      const auto marker_at = [&](size_t k) {
        return at(b, k) == 0xFF && at(b, k + 1) != 0x00 && !(at(b, k + 1) >= 0xD0 && at(b, k + 1) <= 0xD7);
      };
      while (i + 1 < n && !marker_at(i)) ++i;
    }
  }
}

uint32_t be32(std::string_view b, size_t i) {
  return static_cast<uint32_t>(at(b, i)) << 24 | static_cast<uint32_t>(at(b, i + 1)) << 16 |
         static_cast<uint32_t>(at(b, i + 2)) << 8 | at(b, i + 3);
}

// Chunks: length, type, data, CRC.
void check_png(std::string_view b, const std::string& name) {
  size_t i = 8;
  while (i + 8 <= b.size()) {
    const uint32_t len = be32(b, i);
    const std::string_view type = b.substr(i + 4, 4);
    check(!(type == "IDAT" && len == 0), "image '", name, "': PNG with an empty IDAT chunk at offset ", i);
    // stb grows its buffer to a chunk's declared length before reading it: 2 GB for a lying header.
    check(len <= b.size() - i - 8, "image '", name, "': PNG chunk at offset ", i, " declares ", len,
          " bytes, beyond the end of the file");
    if (type == "IEND") return;
    i += 12 + static_cast<size_t>(len);
  }
}

}  // namespace

void check_image_structure(std::string_view bytes, const std::string& name) {
  // stb takes a JPEG's start of image after any number of 0xFF fill bytes, as markers allow.
  size_t fill = 0;
  while (fill < bytes.size() && at(bytes, fill) == 0xFF) ++fill;
  if (fill >= 1 && fill < bytes.size() && at(bytes, fill) == 0xD8) check_jpeg(bytes, fill + 1, name);
  if (bytes.size() >= 8 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) check_png(bytes, name);
}

}  // namespace wb::data
