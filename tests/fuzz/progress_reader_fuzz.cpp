// libFuzzer target: the -progress key=value reader.
#include <sidecar/log.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t step = 1 + data[0] % 32;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  sidecar::progress_reader r;
  std::size_t blocks = 0;
  for (std::size_t at = 0; at < bytes.size(); at += step)
    r.feed(bytes.substr(at, step), [&](sidecar::progress&&) { ++blocks; });
  return 0;
}
