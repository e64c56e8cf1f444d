// libFuzzer target: the stderr parser. The same bytes must give the same events (count and
// every field) however they are sliced. Against one big feed, each input checks two more
// slicings: small slices with sizes from the input, and one of 1 + the rest, the rest + 1, a
// first slice ending just before, at or after the 64 KiB line bound, or slices longer than
// it. One input in 64 is first reshaped into a line of about 64 KiB or 128 KiB
// (slicing.hpp). Lines stay bounded. A difference traps.
#include <sidecar/log.hpp>

#include "slicing.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

namespace {

using namespace sidecar;

auto fields(const version_info& v) {
  return std::tie(v.version, v.major, v.minor, v.micro, v.copyright, v.origin);
}
auto fields(const configuration_info& v) {
  return std::tie(v.flags);
}
auto fields(const library_version& v) {
  return std::tie(v.name, v.compiled, v.runtime);
}
auto fields(const input_info& v) {
  return std::tie(v.index, v.format, v.url);
}
auto fields(const duration_info& v) {
  return std::tie(v.input_index, v.duration, v.start, v.bitrate_kbps);
}
auto fields(const stream_info& v) {
  return std::tie(v.is_output, v.file_index, v.stream_index, v.id, v.language, v.type, v.codec,
                  v.details, v.pix_fmt, v.width, v.height, v.fps, v.sample_rate, v.channel_layout,
                  v.sample_format);
}
auto fields(const stream_mapping_entry& v) {
  return std::tie(v.input_file, v.input_stream, v.output_file, v.output_stream, v.copy, v.text);
}
auto fields(const output_info& v) {
  return std::tie(v.index, v.format, v.url, v.to_stdout);
}
auto fields(const progress& v) {
  return std::tie(v.frame, v.fps, v.q, v.size_bytes, v.time, v.bitrate_kbps, v.speed, v.dup, v.drop,
                  v.elapsed, v.final, v.percent, v.eta);
}
auto fields(const log_line& v) {
  return std::tie(v.level, v.component, v.text);
}

bool same_event(const log_event& a, const log_event& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        return fuzz::same_fields(fields(x), fields(std::get<std::decay_t<decltype(x)>>(b)));
      },
      a);
}

struct parsed {
  std::vector<log_event> events;
  std::uint64_t bytes = 0;
};

template <class Next> parsed parse(std::string_view bytes, Next&& next) {
  log_parser p;
  parsed out;
  auto sink = [&](log_event&& e) { out.events.push_back(std::move(e)); };
  fuzz::feed_sliced(
      bytes, [&](std::string_view s) { p.feed(s, sink); }, next);
  p.finish(sink);
  out.bytes = p.bytes_parsed();
  return out;
}

void check(std::string_view bytes, fuzz::header h) {
  const auto ref = parse(bytes, [] { return fuzz::whole; });
  for (const auto& e : ref.events)
    if (auto* l = std::get_if<log_line>(&e))
      // U+FFFD replacement may grow a line up to 3x; never beyond that bound.
      if (l->text.size() > 3 * log_parser::max_line) __builtin_trap();
  fuzz::for_two_slicings(bytes, log_parser::max_line, h, [&](auto next) {
    const auto got = parse(bytes, next);
    if (got.events.size() != ref.events.size()) __builtin_trap(); // slicing changed the count
    for (std::size_t i = 0; i < got.events.size(); ++i)
      if (!same_event(got.events[i], ref.events[i])) __builtin_trap(); // ... or an event
    if (got.bytes != ref.bytes) __builtin_trap();                      // every byte parsed once
  });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::run_input(data, size, log_parser::max_line, check);
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)parse_progress_line(bytes);
  (void)parse_version_line(bytes);
  return 0;
}
