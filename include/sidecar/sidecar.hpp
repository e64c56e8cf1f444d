// Everything sidecar offers, in one include.
#pragma once

#include <sidecar/binary.hpp>
#include <sidecar/child.hpp>
#include <sidecar/command.hpp>
#include <sidecar/error.hpp>
#include <sidecar/exit_status.hpp>
#include <sidecar/ffmpeg_child.hpp>
