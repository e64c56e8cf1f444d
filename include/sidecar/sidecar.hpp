// Everything sidecar offers, in one include.
#pragma once

#include <sidecar/binary.hpp>
#include <sidecar/capabilities.hpp>
#include <sidecar/child.hpp>
#include <sidecar/command.hpp>
#include <sidecar/error.hpp>
#include <sidecar/events.hpp>
#include <sidecar/exit_status.hpp>
#include <sidecar/ffmpeg_child.hpp>
#include <sidecar/ffplay.hpp>
#include <sidecar/file_stream.hpp>
#include <sidecar/hls.hpp>
#include <sidecar/log.hpp>
#include <sidecar/named_pipe.hpp>
#include <sidecar/pipeline.hpp>
#include <sidecar/pixel_format.hpp>
#include <sidecar/presets.hpp>
#include <sidecar/probe.hpp>
#include <sidecar/read_all.hpp>
#include <sidecar/relay.hpp>
#include <sidecar/run_sync.hpp>
#include <sidecar/tcp_ingest.hpp>
#include <sidecar/tee.hpp>
#include <sidecar/version.hpp>
#include <sidecar/with_timeout.hpp>

/// \namespace sidecar
/// Everything sidecar offers: commands for ffmpeg, ffplay and ffprobe, their children and
/// the typed stream of what they say and produce, and the pieces that join them into
/// pipelines (relay, tee, named pipes, TCP ingest, presets). README is the guide.
