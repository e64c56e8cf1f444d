// What explains a failed run of ffmpeg or ffprobe (the log layer; the event stream and probe
// keep one each): the error-level lines seen last (with the component line just before the
// first of them, which often names the file), else the last lines, and the first fatal line,
// which fails a run whatever its exit status.
#pragma once

#include <sidecar/export.hpp>
#include <sidecar/log.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace sidecar::detail {

class SIDECAR_API error_record {
public:
  static constexpr std::size_t max_lines = 32;   // error-level lines kept for error messages
  static constexpr std::size_t recent_lines = 5; // other lines, when no error-level line came

  // Notes one log line (its secrets masked already).
  void note(const log_line& l);
  // The lines that explain a failure: error-level lines seen last, else the last few lines.
  std::vector<std::string> lines() const;
  // The first fatal- or panic-level line: a run that printed one failed, whatever its exit
  // status (7.x and later exit 0 after "[fatal] File '…' already exists. Exiting.").
  const std::optional<std::string>& fatal_line() const noexcept { return fatal_line_; }

private:
  // Vectors, bounded by dropping the oldest: nothing is allocated until a line comes (a quiet
  // child holds no blocks), and a full one moves a few strings instead of allocating.
  std::vector<std::string> tail_;
  std::vector<std::string> error_tail_;
  std::optional<std::string> fatal_line_;
  std::string context_line_;  // the last line, when it came from a component below error level
  std::string error_context_; // that line, when an error-level line followed it first
};

} // namespace sidecar::detail
