// Binary lookup: the SIDECAR_* override, then PATH, with an error that says where we looked.
#include <sidecar/binary.hpp>

#include <sidecar/find_executable.hpp>

#include <cstdlib>
#include <optional>
#include <string>

namespace sidecar {

std::string_view tool_name(tool t) noexcept {
  switch (t) {
  case tool::ffmpeg:
    return "ffmpeg";
  case tool::ffplay:
    return "ffplay";
  case tool::ffprobe:
    return "ffprobe";
  }
  return "ffmpeg";
}

std::string_view tool_env_var(tool t) noexcept {
  switch (t) {
  case tool::ffmpeg:
    return "SIDECAR_FFMPEG";
  case tool::ffplay:
    return "SIDECAR_FFPLAY";
  case tool::ffprobe:
    return "SIDECAR_FFPROBE";
  }
  return "SIDECAR_FFMPEG";
}

namespace {

const char* install_hint(std::string_view name) {
  if (name == "ffmpeg" || name == "ffplay" || name == "ffprobe")
    return " (install FFmpeg, e.g. `apt install ffmpeg`, or point the variable at the binary)";
  return "";
}

std::optional<tool> tool_named(std::string_view name) {
  for (tool t : {tool::ffmpeg, tool::ffplay, tool::ffprobe})
    if (name == tool_name(t)) return t;
  return std::nullopt;
}

} // namespace

expected<std::filesystem::path> find_program(std::string_view name) {
  auto t = tool_named(name);
  if (!t) return find_executable(name);
  std::string var(tool_env_var(*t));
  const char* v = std::getenv(var.c_str());
  if (v && *v) {
    // A path in the variable is the only place looked at; a bare name is searched on PATH.
    auto found = find_executable(v);
    if (found) return found;
    return fail(errc::binary_not_found, std::string(name) + " not found: " + var + "=" + v + ": " +
                                            found.error().message() + install_hint(name));
  }
  auto found = find_executable(name);
  if (found) return found;
  return fail(errc::binary_not_found,
              found.error().message() + "; " + var + " unset" + install_hint(name));
}

expected<std::filesystem::path> find_tool(tool t) {
  return find_program(tool_name(t));
}

bool ffmpeg_is_installed() {
  return find_tool(tool::ffmpeg).has_value();
}

} // namespace sidecar
