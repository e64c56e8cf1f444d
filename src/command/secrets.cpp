// Secrets: which parts of a command are secret (URL userinfo, credential-named query values,
// RTMP keys, the documented secret options), and masking them wherever they reappear.
#include <sidecar/command.hpp>

#include "base64.hpp"
#include "secrets.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sidecar {

using detail::base64;
using detail::mask;

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

// The authority, as ffmpeg's av_url_split ends it; the userinfo is up to its last '@'.
void mask_authority(std::string& out, std::string_view authority, secret_sink found) {
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) {
    out.append(authority);
    return;
  }
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
}

// The path. For RTMP the first segment is the application and the rest is the stream key,
// which may itself contain '/'; everything after the application is masked.
void mask_path(std::string& out, std::string_view scheme, std::string_view path,
               secret_sink found) {
  if (!is_rtmp(scheme) || path.empty() || path[0] != '/') {
    out.append(path);
    return;
  }
  std::size_t app_end = path.find('/', 1);
  if (app_end == std::string_view::npos || app_end + 1 >= path.size()) {
    out.append(path);
    return;
  }
  out.append(path.substr(0, app_end + 1));
  out.append(mask);
  if (!found) return;
  // rtmpproto prints the key as its playpath ("fname = KEY", "Sending publish command for
  // 'KEY'"): its last segment too, when the application has an instance (app/inst/KEY); less
  // ".flv", which it strips. (It keeps a query, "KEY?bw=1": the query stays shown there, as
  // in the URL.)
  std::string_view key = path.substr(app_end + 1);
  for (std::string_view k : {key, key.substr(key.rfind('/') + 1)}) {
    note(found, k);
    if (k.size() > 4 && k.substr(k.size() - 4) == ".flv") note(found, k.substr(0, k.size() - 4));
  }
}

// The query (after its '?'), to the end: '#' is not taken as a fragment because SRT stream
// ids start with it. Credential-named values are masked.
void mask_query(std::string& out, std::string_view scheme, std::string_view query,
                secret_sink found) {
  for (std::size_t pos = 0; pos <= query.size();) {
    std::size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view param = query.substr(pos, amp - pos);
    std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && eq + 1 < param.size() &&
        secret_param(scheme, param.substr(0, eq))) {
      out.append(param.substr(0, eq + 1));
      out.append(mask);
      note(found, param.substr(eq + 1));
    } else {
      out.append(param);
    }
    if (amp < query.size()) out.push_back('&');
    pos = amp + 1;
  }
}

// Masks one URL (without surrounding text). `scheme_end` is the index of "://". What it
// masks goes to `found` too, when given.
std::string mask_url(std::string_view url, std::size_t scheme_end, secret_sink found) {
  const std::string scheme = lowered(url.substr(0, scheme_end));
  std::string out(url.substr(0, scheme_end + 3));
  const std::size_t auth_start = scheme_end + 3;
  std::size_t auth_end = url.find_first_of("/?#", auth_start);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  mask_authority(out, url.substr(auth_start, auth_end - auth_start), found);
  std::size_t path_end = url.find('?', auth_end);
  if (path_end == std::string_view::npos) path_end = url.size();
  mask_path(out, scheme, url.substr(auth_end, path_end - auth_end), found);
  if (path_end >= url.size()) return out;
  out.push_back('?');
  mask_query(out, scheme, url.substr(path_end + 1), found);
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

} // namespace

namespace detail {
bool is_secret_option(std::string_view opt) {
  return secret_option(opt);
}
} // namespace detail

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

} // namespace sidecar
