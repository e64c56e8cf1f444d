// The command builder: aliases, the prompt and log-level guards, display quoting and masking.
#include <sidecar/command.hpp>

#include "number_text.hpp"

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

// A name (a query parameter's, a header's) that says its value is a credential. A substring
// match over-masks (e.g. "keyint") rather than leak a differently named secret.
bool credential_name(std::string_view name) {
  const std::string n = lowered(name);
  // Key length, not a key: showing it helps debug an SRT handshake.
  if (n == "pbkeylen") return false;
  // YouTube's HLS ingest URL carries the stream key as cid=.
  if (n == "cid") return true;
  for (std::string_view word : {"key", "token", "pass", "pwd", "secret", "auth", "sig", "cred"})
    if (n.find(word) != std::string::npos) return true;
  return false;
}

bool secret_param(std::string_view scheme, std::string_view name) {
  // SRT's streamid often carries the publishing key ("#!::r=live/KEY,m=publish").
  if (scheme == "srt" && lowered(name) == "streamid") return true;
  return credential_name(name);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded, as ffmpeg decodes a URL's parts before it uses (and may print) them.
std::string percent_decoded(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    int hi = -1, lo = -1;
    if (s[i] == '%' && i + 2 < s.size()) {
      hi = hex_digit(s[i + 1]);
      lo = hex_digit(s[i + 2]);
    }
    if (hi >= 0 && lo >= 0) {
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string base64(std::string_view s) {
  static constexpr char digits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < s.size(); i += 3) {
    std::uint32_t n = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) n |= static_cast<unsigned char>(s[i + 1]) << 8;
    if (i + 2 < s.size()) n |= static_cast<unsigned char>(s[i + 2]);
    out.push_back(digits[(n >> 18) & 63]);
    out.push_back(digits[(n >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? digits[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < s.size() ? digits[n & 63] : '=');
  }
  return out;
}

// Where masking a URL reports what it masked, when the builder learns a command's secrets.
using secret_sink = std::vector<std::string>*;

// A secret as written, and percent-decoded when that differs (ffmpeg may print either).
void note(secret_sink found, std::string_view value) {
  if (!found || value.empty()) return;
  found->emplace_back(value);
  if (value.find('%') != std::string_view::npos) {
    auto decoded = percent_decoded(value);
    if (decoded != value) found->push_back(std::move(decoded));
  }
}

// Masks one URL (without surrounding text). `scheme_end` is the index of "://". What it
// masks goes to `found` too, when given.
std::string mask_url(std::string_view url, std::size_t scheme_end, secret_sink found) {
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
      note(found, userinfo.substr(colon + 1));
    } else if (!userinfo.empty()) {
      // A userinfo alone is a token (https://TOKEN@host), not just a user name.
      out.append(mask);
      note(found, userinfo);
    }
    // http and rtsp send the userinfo as Basic credentials, which ffmpeg prints at debug
    // level with its request headers.
    if (found && !userinfo.empty()) {
      found->push_back(base64(userinfo));
      found->push_back(base64(percent_decoded(userinfo)));
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
      if (found) {
        // rtmpproto prints the key as its playpath ("fname = KEY", "Sending publish command
        // for 'KEY'"): its last segment too, when the application has an instance
        // (app/inst/KEY); less ".flv", which it strips. (It keeps a query, "KEY?bw=1": the
        // query stays shown there, as in the URL.)
        std::string_view key = path.substr(app_end + 1);
        for (std::string_view k : {key, key.substr(key.rfind('/') + 1)}) {
          note(found, k);
          if (k.size() > 4 && k.substr(k.size() - 4) == ".flv")
            note(found, k.substr(0, k.size() - 4));
        }
      }
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
      note(found, param.substr(eq + 1));
    } else {
      out.append(param);
    }
    if (amp < url.size()) out.push_back('&');
    pos = amp + 1;
  }
  return out;
}

// Options whose value is a secret by itself (command.hpp lists them and why), by ffmpeg's
// documentation of its protocols and formats: rtmp, http, crypto, hls, mov, libsrt, srtp, whip.
constexpr std::string_view secret_options[] = {
    "rtmp_playpath",  "rtmp_conn",    "headers",      "cookies",          "decryption_key",
    "encryption_key", "hls_enc_key",  "key",          "activation_bytes", "audible_key",
    "passphrase",     "streamid",     "srt_streamid", "srtp_in_params",   "srtp_out_params",
    "password",       "authorization"};

// The option's name without its '-' and without a stream specifier ("-key:v" is "key").
std::string option_name(std::string_view opt) {
  std::string n = lowered(opt.substr(1));
  if (auto colon = n.find(':'); colon != std::string::npos) n.resize(colon);
  return n;
}

// Options whose next argument is a secret by itself, e.g. `-passphrase X` for SRT.
bool secret_option(std::string_view opt) {
  if (opt.size() < 2 || opt[0] != '-') return false;
  const std::string n = option_name(opt);
  return std::find(std::begin(secret_options), std::end(secret_options), n) !=
             std::end(secret_options) ||
         n.find("token") != std::string::npos || n.find("secret") != std::string::npos;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::string_view(" \t\r\n").find(s.front()) != std::string_view::npos)
    s.remove_prefix(1);
  while (!s.empty() && std::string_view(" \t\r\n").find(s.back()) != std::string_view::npos)
    s.remove_suffix(1);
  return s;
}

// Calls f with each piece of `s` between separators, trimmed.
template <class F> void split(std::string_view s, char separator, F&& f) {
  for (std::size_t pos = 0; pos <= s.size();) {
    std::size_t end = s.find(separator, pos);
    if (end == std::string_view::npos) end = s.size();
    f(trimmed(s.substr(pos, end - pos)));
    pos = end + 1;
  }
}

// The values of "name=value; name2=value2" (a Cookie header) or of the first pair of a
// Set-Cookie line ("name=value; path=/; domain=...", what -cookies takes).
void cookie_values(std::string_view pairs, bool first_only, secret_sink found) {
  bool first = true;
  split(pairs, ';', [&](std::string_view pair) {
    if (first_only && !first) return;
    first = false;
    if (auto eq = pair.find('='); eq != std::string_view::npos)
      note(found, trimmed(pair.substr(eq + 1)));
  });
}

// The secrets in the value of a secret option: the whole value, or for a value of several
// parts, each secret part as ffmpeg may print it on its own (a credential header's value, a
// cookie's, an AMF value of -rtmp_conn), so that a debug log keeps its shape ("Authorization:
// Bearer ***") and a line is not searched for long strings of plain words.
void option_secrets(std::string_view opt, std::string_view value, secret_sink found) {
  const std::string n = option_name(opt);
  if (n == "headers") {
    split(value, '\n', [&](std::string_view line) {
      auto colon = line.find(':');
      if (colon == std::string_view::npos) return;
      const std::string name = lowered(trimmed(line.substr(0, colon)));
      std::string_view v = trimmed(line.substr(colon + 1));
      if (name == "cookie") {
        cookie_values(v, false, found);
      } else if (credential_name(name)) { // authorization, proxy-authorization, x-api-key, ...
        // "Bearer TOKEN", "Basic BASE64", "Digest username=...": what follows the scheme.
        auto space = v.find(' ');
        note(found, space == std::string_view::npos ? v : trimmed(v.substr(space + 1)));
      }
    });
  } else if (n == "cookies") {
    split(value, '\n', [&](std::string_view line) { cookie_values(line, true, found); });
  } else if (n == "rtmp_conn") {
    // Space-separated AMF values: "S:string", "NS:name:string", "B:1", "O:1", ...
    split(value, ' ', [&](std::string_view item) {
      auto first = item.find(':'), last = item.rfind(':');
      if (first == std::string_view::npos) return;
      note(found, item.substr(last + 1));
      if (last != first) note(found, item.substr(first + 1));
    });
  } else {
    note(found, trimmed(value));
  }
}

// Every URL in `text` masked (mask_secrets' second part); what was masked goes to `found`.
std::string mask_urls(std::string_view text, secret_sink found) {
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
    out.append(mask_url(text.substr(start, end - start), sep - start, found));
    copied = end;
    search = end;
  }
  out.append(text.substr(copied));
  return out;
}

// Keeps `value` in `secrets` (longest first, each once) when it is long enough to mask.
void remember(std::vector<std::string>& secrets, std::string_view value) {
  if (value.size() < command::min_secret_length) return;
  if (std::find(secrets.begin(), secrets.end(), value) != secrets.end()) return;
  auto at = std::find_if(secrets.begin(), secrets.end(),
                         [&](const std::string& s) { return s.size() < value.size(); });
  secrets.emplace(at, value);
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

bool mask_secrets_in_place(std::string& text, std::span<const std::string> values) {
  bool changed = false;
  for (const auto& v : values) {
    if (v.empty()) continue;
    for (auto at = text.find(v); at != std::string::npos; at = text.find(v, at + mask.size())) {
      text.replace(at, v.size(), mask);
      changed = true;
    }
  }
  if (text.find("://") != std::string::npos) {
    auto masked = mask_urls(text, nullptr);
    if (masked != text) {
      text = std::move(masked);
      changed = true;
    }
  }
  return changed;
}

std::string mask_secrets(std::string_view text, std::span<const std::string> values) {
  std::string out(text);
  mask_secrets_in_place(out, values);
  return out;
}

// --- secrets ------------------------------------------------------------------------------

command& command::secret(std::string_view value) {
  remember(secrets_, value);
  return *this;
}

void command::learn_secrets(std::string_view a, const command_option* option) {
  std::vector<std::string> found;
  if (option && secret_option(option->name)) option_secrets(option->name, a, &found);
  if (a.find("://") != std::string_view::npos) mask_urls(a, &found);
  for (const auto& f : found)
    remember(secrets_, f);
}

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
    out.append(shell_quote(mask_secrets(a, secrets_)));
    hide_next = secret_option(a);
  }
  return out;
}

std::ostream& operator<<(std::ostream& out, const command& c) {
  return out << c.to_string();
}

} // namespace sidecar
