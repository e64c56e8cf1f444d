// ffprobe as an awaitable: `co_await sidecar::probe("in.mp4")` → typed media info, from
// `ffprobe -print_format json -show_format -show_streams`.
#pragma once

#include <sidecar/detail/asio_config.hpp>
#include <sidecar/export.hpp>

#include <sidecar/async.hpp>
#include <sidecar/error.hpp>
#include <sidecar/media_info.hpp>

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar {

/// How probe() runs ffprobe.
struct SIDECAR_API probe_options {
  std::vector<std::string> extra_args{}; ///< before the input, e.g. {"-f", "lavfi"}
  /// The whole run; past it ffprobe is killed and the result is errc::timed_out.
  std::chrono::milliseconds timeout{30000};
};

/// Runs ffprobe on a path or URL on the calling coroutine's executor. A missing file or one
/// that is not media is errc::process_failed carrying ffprobe's exit status and its message
/// ("No such file or directory", "Invalid data found when processing input"); a missing
/// ffprobe is errc::binary_not_found.
SIDECAR_API asio::awaitable<expected<media_info>> probe(std::string input,
                                                        probe_options options = {});

/// The same through any completion token, on `ex`: void(std::error_code, media_info) (see
/// <sidecar/async.hpp>). Cancellation, of any type, kills ffprobe and completes with
/// asio::error::operation_aborted.
template <detail::executor_like Executor, class Token = asio::default_completion_token_t<Executor>>
auto async_probe(const Executor& ex, std::string input, probe_options options,
                 Token&& token = asio::default_completion_token_t<Executor>()) {
  return detail::async_spawned<expected<media_info>>(
      ex,
      [input = std::move(input), options = std::move(options)]() mutable {
        return probe(std::move(input), std::move(options));
      },
      std::forward<Token>(token));
}

} // namespace sidecar
