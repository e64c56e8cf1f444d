// The command builder: aliases, the prompt and log-level guards, display quoting and masking.
#include <sidecar/command.hpp>

#include "number_text.hpp"

#include <sidecar/capabilities.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <iostream>
#include <ostream>

namespace sidecar {

using detail::number_text;

namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = lower(c);
  return out;
}

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_scheme_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}

// Where a URL embedded in prose stops. Quotes and brackets around it are common in ffmpeg's
// messages ("Opening 'rtmp://...' for writing"); '|' separates the tee muxer's outputs.
bool ends_url(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\'' ||
         c == '"' || c == '`' || c == '<' || c == '>' || c == '|';
}

constexpr std::string_view mask = "***";

bool is_rtmp(std::string_view scheme) {
  for (std::string_view s : {"rtmp", "rtmps", "rtmpt", "rtmpe", "rtmpte", "rtmpts"})
    if (scheme == s) return true;
  return false;
}

bool secret_param(std::string_view scheme, std::string_view name) {
  const std::string n = lowered(name);
  // SRT's streamid often carries the publishing key ("#!::r=live/KEY,m=publish").
  if (scheme == "srt" && n == "streamid") return true;
  // Key length, not a key: showing it helps debug an SRT handshake.
  if (n == "pbkeylen") return false;
  // A substring match over-masks (e.g. "keyint") rather than leak a differently named secret.
  for (std::string_view word : {"key", "token", "pass", "pwd", "secret", "auth", "sig"})
    if (n.find(word) != std::string::npos) return true;
  return false;
}

// Masks one URL (without surrounding text). `scheme_end` is the index of "://".
std::string mask_url(std::string_view url, std::size_t scheme_end) {
  const std::string scheme = lowered(url.substr(0, scheme_end));
  std::string out(url.substr(0, scheme_end + 3));
  std::size_t pos = scheme_end + 3;

  // Authority ends where ffmpeg's av_url_split ends it; the userinfo is up to its last '@'.
  std::size_t auth_end = url.find_first_of("/?#", pos);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  std::string_view authority = url.substr(pos, auth_end - pos);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      out.append(userinfo.substr(0, colon + 1));
      out.append(mask);
    } else {
      out.append(userinfo);
    }
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  pos = auth_end;

  // Path. For RTMP the first segment is the application and the rest is the stream key, which
  // may itself contain '/'; everything after the application is masked.
  std::size_t path_end = url.find('?', pos);
  if (path_end == std::string_view::npos) path_end = url.size();
  std::string_view path = url.substr(pos, path_end - pos);
  if (is_rtmp(scheme) && !path.empty() && path[0] == '/') {
    std::size_t app_end = path.find('/', 1);
    if (app_end != std::string_view::npos && app_end + 1 < path.size()) {
      out.append(path.substr(0, app_end + 1));
      out.append(mask);
    } else {
      out.append(path);
    }
  } else {
    out.append(path);
  }
  pos = path_end;
  if (pos >= url.size()) return out;

  // Query, to the end: '#' is not taken as a fragment because SRT stream ids start with it.
  out.push_back('?');
  ++pos;
  while (pos <= url.size()) {
    std::size_t amp = url.find('&', pos);
    if (amp == std::string_view::npos) amp = url.size();
    std::string_view param = url.substr(pos, amp - pos);
    std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && eq + 1 < param.size() &&
        secret_param(scheme, param.substr(0, eq))) {
      out.append(param.substr(0, eq + 1));
      out.append(mask);
    } else {
      out.append(param);
    }
    if (amp < url.size()) out.push_back('&');
    pos = amp + 1;
  }
  return out;
}

// Options whose next argument is a secret by itself, e.g. `-passphrase X` for SRT.
bool secret_option(std::string_view opt) {
  if (opt.size() < 2 || opt[0] != '-') return false;
  const std::string n = lowered(opt.substr(1));
  return n == "passphrase" || n == "password" || n == "streamid" || n == "srtp_in_params" ||
         n == "srtp_out_params" || n.find("token") != std::string::npos ||
         n.find("secret") != std::string::npos;
}

// POSIX sh quoting: bare when every byte is unambiguous, else single quotes.
std::string shell_quote(std::string_view word) {
  if (word.empty()) return "''";
  bool bare = std::all_of(word.begin(), word.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':' ||
           c == ',' || c == '+' || c == '=' || c == '@' || c == '%';
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

std::string mask_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t copied = 0;
  std::size_t search = 0;
  while (true) {
    std::size_t sep = text.find("://", search);
    if (sep == std::string_view::npos) break;
    // Walk back over the scheme; it must start with a letter.
    std::size_t start = sep;
    while (start > copied && is_scheme_char(text[start - 1]))
      --start;
    while (start < sep && !is_alpha(text[start]))
      ++start;
    if (start == sep) {
      search = sep + 3;
      continue;
    }
    std::size_t end = sep + 3;
    while (end < text.size() && !ends_url(text[end]))
      ++end;
    // Punctuation that ends a sentence is not part of the URL: ffmpeg writes "URL: reason".
    while (end > sep + 3 && std::string_view(":,;.").find(text[end - 1]) != std::string_view::npos)
      --end;
    out.append(text.substr(copied, start - copied));
    out.append(mask_url(text.substr(start, end - start), sep - start));
    copied = end;
    search = end;
  }
  out.append(text.substr(copied));
  return out;
}

// --- aliases ------------------------------------------------------------------------------

command& command::arg(std::string_view a) {
  args_.emplace_back(a);
  classify(a);
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
      out.append(shell_quote(mask));
      hide_next = false;
      continue;
    }
    out.append(shell_quote(mask_secrets(a)));
    hide_next = secret_option(a);
  }
  return out;
}

std::ostream& operator<<(std::ostream& out, const command& c) {
  return out << c.to_string();
}

} // namespace sidecar
