// libFuzzer target: the ffprobe JSON mapping must never throw or crash.
#include <sidecar/media_info.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = sidecar::parse_probe_json(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r)
    for (const auto& s : r->streams)
      (void)s.codec.size();
  return 0;
}
