// Binary lookup: the SIDECAR_* override, then PATH, with an error that says where we looked.
#include <sidecar/binary.hpp>

#include <cstdlib>
#include <string>

#include <unistd.h>

namespace sidecar {

std::string_view tool_name(tool t) noexcept {
  switch (t) {
  case tool::ffmpeg: return "ffmpeg";
  case tool::ffplay: return "ffplay";
  case tool::ffprobe: return "ffprobe";
  }
  return "ffmpeg";
}

std::string_view tool_env_var(tool t) noexcept {
  switch (t) {
  case tool::ffmpeg: return "SIDECAR_FFMPEG";
  case tool::ffplay: return "SIDECAR_FFPLAY";
  case tool::ffprobe: return "SIDECAR_FFPROBE";
  }
  return "SIDECAR_FFMPEG";
}

namespace {

bool is_executable_file(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

const char* install_hint(std::string_view name) {
  if (name == "ffmpeg" || name == "ffplay" || name == "ffprobe")
    return " (install FFmpeg, e.g. `apt install ffmpeg`, or point the variable at the binary)";
  return "";
}

} // namespace

expected<std::filesystem::path> find_program(std::string_view name) {
  if (name.empty()) return fail(errc::bad_argument, "empty program name");
  std::string wanted(name);
  for (tool t : {tool::ffmpeg, tool::ffplay, tool::ffprobe}) {
    if (name != tool_name(t)) continue;
    std::string var(tool_env_var(t));
    if (const char* v = std::getenv(var.c_str()); v && *v) {
      std::filesystem::path p = v;
      if (p.native().find('/') == std::string::npos) {
        wanted = p.native(); // a bare name in the variable is looked up on PATH below
        break;
      }
      if (is_executable_file(p)) return p;
      return fail(errc::binary_not_found, wanted + " not found: " + var + "=" + p.native() +
                                              " is not an executable file" + install_hint(name));
    }
  }
  if (wanted.find('/') != std::string::npos) {
    if (is_executable_file(wanted)) return std::filesystem::path(wanted);
    return fail(errc::binary_not_found, wanted + " is not an executable file");
  }
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t pos = 0;
  while (pos <= path.size()) {
    auto end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(pos, end - pos);
    if (dir.empty()) dir = ".";
    auto candidate = std::filesystem::path(dir) / wanted;
    if (is_executable_file(candidate)) return candidate;
    pos = end + 1;
  }
  std::string searched = "PATH=" + path;
  for (tool t : {tool::ffmpeg, tool::ffplay, tool::ffprobe})
    if (name == tool_name(t)) searched = std::string(tool_env_var(t)) + " unset, " + searched;
  return fail(errc::binary_not_found,
              wanted + " not found (searched " + searched + ")" + install_hint(name));
}

expected<std::filesystem::path> find_tool(tool t) { return find_program(tool_name(t)); }

bool ffmpeg_is_installed() { return find_tool(tool::ffmpeg).has_value(); }

} // namespace sidecar
