// The command builder: aliases, the prompt and log-level guards, display quoting and masking.
#include <sidecar/command.hpp>

#include "base64.hpp"
#include "number_text.hpp"
#include "secrets.hpp"

#include <sidecar/capabilities.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <iostream>
#include <iterator>
#include <ostream>

namespace sidecar {

using detail::number_text;

namespace {

// POSIX sh quoting: bare when every byte is unambiguous, else single quotes.
std::string shell_quote(std::string_view word) {
  if (word.empty()) return "''";
  bool bare = std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '/' || c == ':' || c == ',' || c == '+' || c == '=' ||
           c == '@' || c == '%';
  });
  if (bare) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out.append("'\\''");
    else
      out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

} // namespace

// --- aliases ------------------------------------------------------------------------------

command& command::arg(std::string_view a) {
  args_.emplace_back(a);
  learn_secrets(a, classify(a));
  return *this;
}

command& command::args(std::initializer_list<std::string_view> list) {
  for (auto a : list)
    arg(a);
  return *this;
}

command& command::hide_banner() {
  return arg("-hide_banner");
}
command& command::loglevel(std::string_view level) {
  return args({"-loglevel", level});
}
command& command::nostdin() {
  return arg("-nostdin");
}

command& command::format(std::string_view name) {
  return args({"-f", name});
}
namespace {

// A path that starts with '-' (other than "-" itself, stdin or stdout) would be read by
// ffmpeg as an option: output("-version") prints the version, output("-report") writes a
// report. file: makes it a path.
std::string as_path(std::string_view path_or_url) {
  if (path_or_url.size() > 1 && path_or_url.front() == '-')
    return "file:" + std::string(path_or_url);
  return std::string(path_or_url);
}

} // namespace

command& command::input(std::string_view path_or_url) {
  return args({"-i", as_path(path_or_url)});
}
command& command::output(std::string_view path_or_url) {
  return arg(as_path(path_or_url));
}
command& command::input_data(std::string_view mime, std::string_view bytes) {
  return input("data:" + std::string(mime) + ";base64," + detail::base64(bytes));
}
command& command::overwrite() {
  return arg("-y");
}
command& command::no_overwrite() {
  return arg("-n");
}
command& command::codec_video(std::string_view codec) {
  return args({"-c:v", codec});
}
command& command::codec_audio(std::string_view codec) {
  return args({"-c:a", codec});
}
command& command::codec_subtitle(std::string_view codec) {
  return args({"-c:s", codec});
}
command& command::limit_file_size(std::uint64_t bytes) {
  return args({"-fs", std::to_string(bytes)});
}
command& command::filter(std::string_view filtergraph) {
  return args({"-filter", filtergraph});
}
command& command::progress_url(std::string_view url) {
  return args({"-progress", url});
}

command& command::duration(std::string_view d) {
  return args({"-t", d});
}
command& command::to(std::string_view position) {
  return args({"-to", position});
}
command& command::seek(std::string_view position) {
  return args({"-ss", position});
}
command& command::seek_eof(std::string_view position) {
  return args({"-sseof", position});
}
command& command::stats_period(std::string_view period) {
  return args({"-stats_period", period});
}

command& command::crf(unsigned value) {
  return args({"-crf:v", std::to_string(value)});
}
command& command::frames(std::uint64_t count) {
  return args({"-frames:v", std::to_string(count)});
}
command& command::preset(std::string_view name) {
  return args({"-preset:v", name});
}
command& command::rate(double fps) {
  return args({"-r", number_text(fps)});
}
command& command::rate(std::string_view fps) {
  return args({"-r", fps});
}
command& command::size(unsigned width, unsigned height) {
  return args({"-s", std::to_string(width) + "x" + std::to_string(height)});
}
command& command::no_video() {
  return arg("-vn");
}
command& command::pix_fmt(std::string_view format) {
  return args({"-pix_fmt", format});
}
command& command::hwaccel(std::string_view method) {
  return args({"-hwaccel", method});
}

command& command::no_audio() {
  return arg("-an");
}

command& command::map(std::string_view spec) {
  return args({"-map", spec});
}
command& command::readrate(double speed) {
  return args({"-readrate", number_text(speed)});
}
command& command::readrate_initial_burst(double seconds) {
  // ffmpeg takes 0 for "not given" (its 0.5 s): no burst is asked for as one of 1 µs.
  if (!(seconds > no_initial_burst)) return args({"-readrate_initial_burst", "0.000001"});
  return args({"-readrate_initial_burst", number_text(seconds)});
}
command& command::realtime() {
  return arg("-re");
}
command& command::fps_mode(std::string_view mode) {
  return args({"-fps_mode", mode});
}
command& command::bitstream_filter_video(std::string_view filters) {
  return args({"-bsf:v", filters});
}
command& command::filter_complex(std::string_view filtergraph) {
  return args({"-filter_complex", filtergraph});
}

command& command::testsrc() {
  return args({"-f", "lavfi", "-i", "testsrc=duration=10"});
}
command& command::rawvideo() {
  return args({"-f", "rawvideo", "-pix_fmt", "rgb24", "-"});
}
command& command::pipe_stdout() {
  return arg("-");
}

command& command::print_command(std::ostream& out) {
  out << to_string() << '\n';
  return *this;
}
command& command::print_command() {
  return print_command(std::cout);
}

std::string command::seconds_text(std::chrono::microseconds us) {
  auto count = us.count();
  std::string out;
  // Work on the magnitude as unsigned so the most negative value does not overflow.
  auto magnitude = static_cast<unsigned long long>(count);
  if (count < 0) {
    out.push_back('-');
    magnitude = 0ULL - magnitude;
  }
  out += std::to_string(magnitude / 1'000'000);
  if (auto frac = magnitude % 1'000'000; frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, 6 - digits.size(), '0');
    digits.erase(digits.find_last_not_of('0') + 1);
    out += '.' + digits;
  }
  return out;
}

// --- what comes out -----------------------------------------------------------------------

std::vector<std::string> command::argv() const {
  std::vector<std::string> out;
  out.reserve(args_.size() + 3);
  // The guards look at every argument, as the old check did, so that an option the flag
  // table does not know (and so reads as taking a value) cannot hide a -y or -loglevel.
  auto given = [&](std::initializer_list<std::string_view> any) {
    return std::any_of(args_.begin(), args_.end(), [&](const std::string& a) {
      return std::find(any.begin(), any.end(), std::string_view(a)) != any.end();
    });
  };
  if (!given({"-loglevel", "-v"})) {
    out.emplace_back("-loglevel");
    out.emplace_back("level+info");
  }
  // Only ffmpeg asks "Overwrite? [y/N]"; ffplay and ffprobe reject -n.
  if (which_ == tool::ffmpeg && !given({"-y", "-n", "-nostdin"})) out.emplace_back("-n");
  out.insert(out.end(), args_.begin(), args_.end());
  return out;
}

expected<resolved_command> command::resolve() const {
  auto program = find_tool(which_);
  if (!program) return unexpected(program.error());
  resolved_command r;
  r.program = std::move(*program);
  r.argv.reserve(args_.size() + 4);
  r.argv.push_back(r.program.string());
  auto rest = argv();
  if (which_ == tool::ffmpeg) {
    // A binary whose version cannot be told gets the options as given: ffmpeg then says
    // itself what it does not know.
    if (carries_gated_option(rest))
      if (auto v = describe_binary(r.program)) adapt_arguments(rest, *v, r.notes);
  }
  r.argv.insert(r.argv.end(), std::make_move_iterator(rest.begin()),
                std::make_move_iterator(rest.end()));
  return r;
}

std::string command::to_string() const {
  std::string out(tool_name(which_));
  bool hide_next = false;
  for (const auto& a : argv()) {
    out.push_back(' ');
    if (hide_next) {
      out.append(shell_quote(detail::mask));
      hide_next = false;
      continue;
    }
    out.append(shell_quote(mask_secrets(a, secrets_)));
    hide_next = detail::is_secret_option(a);
  }
  return out;
}

std::ostream& operator<<(std::ostream& out, const command& c) {
  return out << c.to_string();
}

} // namespace sidecar
