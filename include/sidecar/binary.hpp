// Locating ffmpeg, ffplay and ffprobe: SIDECAR_FFMPEG / SIDECAR_FFPLAY / SIDECAR_FFPROBE, then
// PATH.
#pragma once

#include <sidecar/error.hpp>
#include <sidecar/export.hpp>

#include <filesystem>
#include <string_view>

namespace sidecar {

/// The three programs sidecar drives.
enum class tool { ffmpeg, ffplay, ffprobe };

/// "ffmpeg", "ffplay", "ffprobe".
SIDECAR_API std::string_view tool_name(tool t) noexcept;
/// "SIDECAR_FFMPEG", ...
SIDECAR_API std::string_view tool_env_var(tool t) noexcept;

/// Finds an executable. For ffmpeg, ffplay and ffprobe the SIDECAR_* variable wins when set
/// (and is then the only place looked at); a name with a '/' is taken as a path; anything
/// else is searched on PATH. The error names every place searched and how to install ffmpeg.
SIDECAR_API expected<std::filesystem::path> find_program(std::string_view name);
/// find_program() for a tool: its SIDECAR_* variable when set, else PATH.
SIDECAR_API expected<std::filesystem::path> find_tool(tool t);

/// True when ffmpeg can be found and is executable.
SIDECAR_API bool ffmpeg_is_installed();

} // namespace sidecar
