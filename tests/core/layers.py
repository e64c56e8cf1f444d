#!/usr/bin/env python3
"""The layers as README draws them, checked: every #include <sidecar/...> in include/ and src/
must point at the same layer or one it depends on, and no source reaches another layer's
private files. Run by `meson test` (suite core); prints each offending include."""
import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()

# Public headers by layer. A header not listed fails the check: a new one must be placed.
HEADERS = {
    'core': ['error.hpp', 'exit_status.hpp', 'find_executable.hpp', 'detail/unique_fd.hpp',
             'detail/buffer_pool.hpp', 'detail/wakeup.hpp', 'with_timeout.hpp', 'async.hpp',
             'detail/asio_config.hpp', 'export.hpp', 'version.hpp', 'run_sync.hpp'],  # version.hpp: generated (version.hpp.in)
    'log': ['log.hpp', 'detail/error_record.hpp'],
    'command': ['binary.hpp', 'command.hpp', 'capabilities.hpp', 'presets.hpp'],
    'process': ['child.hpp', 'detail/child_state.hpp'],
    'events': ['events.hpp', 'ffmpeg_child.hpp', 'pixel_format.hpp', 'ffplay.hpp'],
    'probe': ['probe.hpp', 'media_info.hpp'],
    'io': ['relay.hpp', 'tee.hpp', 'file_stream.hpp', 'named_pipe.hpp', 'tcp_ingest.hpp',
           'hls.hpp', 'pipeline.hpp', 'read_all.hpp'],
    'umbrella': ['sidecar.hpp'],
}
# What each layer may include besides itself (README's "Layers, as the build enforces them").
ALLOWED = {
    'core': set(),
    'log': {'core'},
    'command': {'core', 'log', 'process'},
    'process': {'core'},
    'events': {'core', 'log', 'command', 'process'},
    'probe': {'core', 'log', 'command', 'process'},
    'io': {'core', 'process'},
    'umbrella': set(HEADERS),
}

layer_of = {h: layer for layer, hs in HEADERS.items() for h in hs}
include_re = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
problems = []


def check(path, layer):
    text = open(path, encoding='utf-8').read()
    for delim, inc in include_re.findall(text):
        if inc.startswith('sidecar/'):
            target = layer_of.get(inc[len('sidecar/'):])
            if target is None:
                problems.append(f'{path}: {inc} belongs to no layer (add it to tests/core/layers.py)')
            elif target != layer and target not in ALLOWED[layer]:
                problems.append(f'{path}: {layer} includes {inc} of {target}')
        elif delim == '"' and '/' in inc:
            problems.append(f'{path}: "{inc}" reaches into another folder')


inc_dir = os.path.join(ROOT, 'include', 'sidecar')
for dirpath, _, files in os.walk(inc_dir):
    for f in files:
        if not f.endswith('.hpp'):
            continue
        rel = os.path.relpath(os.path.join(dirpath, f), inc_dir)
        layer = layer_of.get(rel)
        if layer is None:
            problems.append(f'include/sidecar/{rel}: belongs to no layer')
            continue
        check(os.path.join(dirpath, f), layer)

src_dir = os.path.join(ROOT, 'src')
for layer in os.listdir(src_dir):
    if layer not in ALLOWED:
        continue
    for dirpath, _, files in os.walk(os.path.join(src_dir, layer)):
        for f in files:
            if f.endswith(('.cpp', '.hpp')):
                check(os.path.join(dirpath, f), layer)

for p in problems:
    print(p)
print(f'layers: {len(problems)} problem(s)')
sys.exit(1 if problems else 0)
