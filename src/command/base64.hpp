// Base64 (RFC 4648, padded): HTTP Basic credentials to mask, data: URIs in the builder.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sidecar::detail {

inline std::string base64(std::string_view s) {
  static constexpr char digits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((s.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < s.size(); i += 3) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(s[i])) << 16;
    if (i + 1 < s.size())
      n |= static_cast<std::uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8;
    if (i + 2 < s.size()) n |= static_cast<unsigned char>(s[i + 2]);
    out.push_back(digits[(n >> 18) & 63]);
    out.push_back(digits[(n >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? digits[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < s.size() ? digits[n & 63] : '=');
  }
  return out;
}

} // namespace sidecar::detail
