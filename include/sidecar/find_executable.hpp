// Finding an executable on PATH, as execvp would: the core's one lookup, used by the process
// layer for a bare program name and by the command layer behind its SIDECAR_* variables.
#pragma once

#include <sidecar/error.hpp>
#include <sidecar/export.hpp>

#include <filesystem>
#include <string_view>

namespace sidecar {

/// A name with a '/' is taken as a path and must be an executable file; any other name is
/// searched in PATH's directories in order (an empty entry is the working directory; no PATH:
/// /usr/local/bin:/usr/bin:/bin). errc::binary_not_found names the PATH searched.
SIDECAR_API expected<std::filesystem::path> find_executable(std::string_view name);

} // namespace sidecar
