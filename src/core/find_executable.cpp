// PATH lookup without a shell: every directory in order, the first executable regular file.
#include <sidecar/find_executable.hpp>

#include <cstdlib>
#include <string>

#include <unistd.h>

namespace sidecar {

namespace {

bool is_executable_file(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

} // namespace

expected<std::filesystem::path> find_executable(std::string_view name) {
  if (name.empty()) return fail(errc::bad_argument, "empty program name");
  std::string wanted(name);
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
  return fail(errc::binary_not_found, wanted + " not found (searched PATH=" + path + ")");
}

} // namespace sidecar
