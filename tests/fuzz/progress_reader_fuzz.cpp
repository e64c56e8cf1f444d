// libFuzzer target: the -progress key=value reader. The same bytes must give the same
// progress blocks (count and every field) however they are sliced. Against one big feed, each
// input checks two more slicings: small slices with sizes from the input, and one of 1 + the
// rest, the rest + 1, a first slice ending just before, at or after the 4 KiB line bound, or
// slices longer than 64 KiB (when the input is that long). One input in 64 is first reshaped
// into a line of about 4 KiB or 8 KiB (slicing.hpp). A difference traps.
#include <sidecar/log.hpp>

#include "slicing.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

using sidecar::progress;
using sidecar::progress_reader;

auto fields(const progress& v) {
  return std::tie(v.frame, v.fps, v.q, v.size_bytes, v.time, v.bitrate_kbps, v.speed, v.dup, v.drop,
                  v.elapsed, v.final, v.percent, v.eta);
}

template <class Next> std::vector<progress> read(std::string_view bytes, Next&& next) {
  progress_reader r;
  std::vector<progress> out;
  auto sink = [&](progress&& p) { out.push_back(std::move(p)); };
  fuzz::feed_sliced(
      bytes, [&](std::string_view s) { r.feed(s, sink); }, next);
  return out;
}

void check(std::string_view bytes, fuzz::header h) {
  const auto ref = read(bytes, [] { return fuzz::whole; });
  fuzz::for_two_slicings(bytes, progress_reader::max_line, h, [&](auto next) {
    const auto got = read(bytes, next);
    if (got.size() != ref.size()) __builtin_trap(); // slicing changed the count
    for (std::size_t i = 0; i < got.size(); ++i)
      if (!fuzz::same_fields(fields(got[i]), fields(ref[i]))) __builtin_trap(); // ... or a block
  });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::run_input(data, size, progress_reader::max_line, check);
  return 0;
}
