// libFuzzer target: the stderr parser, fed the input in slices whose sizes come from the
// input itself; the events must be the same as for one whole feed, and bounded.
#include <sidecar/log.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {
std::size_t count(std::string_view bytes, std::size_t step, std::size_t& longest) {
  sidecar::log_parser p;
  std::size_t n = 0;
  auto sink = [&](sidecar::log_event&& e) {
    ++n;
    if (auto* l = std::get_if<sidecar::log_line>(&e)) longest = std::max(longest, l->text.size());
  };
  for (std::size_t at = 0; at < bytes.size(); at += step) p.feed(bytes.substr(at, step), sink);
  p.finish(sink);
  return n;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t step = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::size_t longest = 0;
  auto whole = count(bytes, bytes.size() + 1, longest);
  auto sliced = count(bytes, step, longest);
  if (whole != sliced) std::abort(); // slicing must not change what is parsed
  // U+FFFD replacement may grow a line up to 3x; never beyond that bound.
  if (longest > 3 * sidecar::log_parser::max_line) std::abort();
  (void)sidecar::parse_progress_line(bytes);
  (void)sidecar::parse_version_line(bytes);
  return 0;
}
