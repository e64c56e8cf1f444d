// The command layer's own: whether an option's value is a secret by itself (secrets.cpp).
#pragma once

#include <string_view>

namespace sidecar::detail {

// What a secret is replaced with.
inline constexpr std::string_view mask = "***";

// `-passphrase`, `-headers`, `-rtmp_playpath`, … and any option named like a token or secret
// (command.hpp lists them): the next argument is masked as a whole.
bool is_secret_option(std::string_view opt);

} // namespace sidecar::detail
