// What ffmpeg says of its run as stderr goes by — its version, inputs, durations, outputs,
// streams and the stream mapping — and when the program may have it (metadata()).
#pragma once

#include <sidecar/events.hpp>
#include <sidecar/log.hpp>

#include <cstddef>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace sidecar::detail {

class metadata_collector {
public:
  // `secrets`: the command's (command::secrets()), masked in what is kept; they outlive it.
  explicit metadata_collector(std::span<const std::string> secrets = {}) : secrets_(secrets) {}

  // Entries kept per kind (inputs, outputs, streams, mapping, durations): a real run has a
  // handful; a hostile stderr cannot grow metadata past this.
  static constexpr std::size_t max_entries = 1024;

  // Keeps what a parsed event says of the run, URLs and mapping text masked (secrets in
  // URLs, and the command's secrets wherever they occur) in the event itself, so the event
  // the program gets is masked too. Other events are left alone.
  void take(log_event& e);

  // Has ffmpeg printed its whole header: a stream mapping, and every output stream it names
  // described under its Output #N? (Outputs come after the mapping and "Press [q] to stop";
  // with -nostats and an endless input nothing else may follow for a long time.)
  bool header_printed() const;
  // Has stderr described every output stream the mapping names? With no mapping (a lowered
  // log level) there is nothing to wait for.
  bool outputs_described() const;

  // metadata() may return from now on; `complete` says whether ffmpeg printed it at its
  // usual level. True when this call settled it.
  bool settle();
  bool settled() const noexcept { return settled_; }
  // -loglevel below info: ffmpeg prints no Input/Output/Stream lines; nothing to wait for.
  void expect_quiet() { quiet_ = true; }

  const sidecar::metadata& get() const noexcept { return meta_; }

  // Entries left out past max_entries.
  std::size_t dropped() const noexcept { return dropped_; }

private:
  template <class T> bool keep(std::vector<T>& to, const T& v);

  std::span<const std::string> secrets_;
  sidecar::metadata meta_;
  std::set<std::pair<int, int>> output_streams_; // described {file, stream}: O(log n) lookups
  std::size_t dropped_ = 0;
  bool settled_ = false;
  bool quiet_ = false;
};

} // namespace sidecar::detail
