#!/usr/bin/env bash
# Regenerates link/startup.ld: the functions maestro runs when it starts, so that the linker
# places them side by side (see build.rs, `startup_layout`).
#
# Why: the kernel maps a binary's code 64 KiB at a time around each page it first touches. The
# ~6,000 functions a start runs were spread over 13 MiB of code, so a start touched nearly all of
# it; side by side they fill under 3 MiB (issue 12: `maestro serve` peak 15.9 -> ~8.5 MiB).
#
# How: run the release binary under valgrind's callgrind through the starts that matter (a stdio
# server answering what Claude Code asks first; the hook on a tool call and at session start),
# keep every function of the maestro binary that ran, and write one input-section pattern per
# function. maestro builds with v0 symbol names (.cargo/config.toml), which spell out each
# instance of a generic function with its types; the only part that changes with the compiler
# and the build is the crate hash `Cs<hash>_`, which becomes `*`. (Legacy names end in one hash
# per instance instead, so a pattern could name one instance only with that build's hash, or
# every instance without it.) A function renamed or added since the last run only loses its
# place; it never breaks the build.
#
# Needs valgrind (Debian: `apt-get install valgrind`). Run it again after larger changes to
# what a start does, and look at the peak of `cargo bench --bench serve` before and after.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
# Built without the current layout: valgrind names only the functions it finds in `.text`, and
# the layout moves them out of it.
MAESTRO_STARTUP_LAYOUT=off cargo build --release --bin maestro >&2
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/maestro"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project/.git"

profile() { # name, stdin feeder, args...
    local name=$1 feed=$2
    shift 2
    (cd "$work/project" && $feed | CLAUDE_PROJECT_DIR="$work/project" valgrind --tool=callgrind \
        --demangle=no --callgrind-out-file="$work/$name.out" "$bin" "$@" >"$work/$name.stdout" 2>"$work/$name.err") ||
        { echo "valgrind run '$name' failed; see below" >&2; cat "$work/$name.err" >&2; exit 1; }
    # Every start must have answered: a profile of a start cut short would lay out too little.
    if [ -n "${expect:-}" ] && ! grep -q "$expect" "$work/$name.stdout"; then
        echo "run '$name' did not answer as expected ($expect); its output:" >&2
        cat "$work/$name.stdout" "$work/$name.err" >&2
        exit 1
    fi
}

# A stdio server, as Claude Code starts one: the handshake and the tool list, then (a second
# run) the prompts and resources it also asks for. The pauses let each answer out before stdin
# closes (valgrind runs the binary ~50x slower).
initialize() {
    printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"profile","version":"1"}}}'
    sleep 1
    printf '%s\n' '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
        '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
}
serve_tools() { initialize; sleep 3; }
serve_catalog() {
    initialize
    printf '%s\n' '{"jsonrpc":"2.0","id":3,"method":"prompts/list"}' \
        '{"jsonrpc":"2.0","id":4,"method":"resources/list"}'
    sleep 3
}
repo="$PWD"
hook_input() { cat "$repo/tests/data/hooks/$1.json"; }
edit() { hook_input pre_tool_use_edit; }
bash_call() { hook_input pre_tool_use_bash; }
session_start() { hook_input session_start; }

# The file names give the order of the groups in the layout (see below).
expect='"id":2,' profile 1-serve-tools serve_tools serve
expect='"id":4,' profile 2-serve-catalog serve_catalog serve
expect='' profile 3-hook-edit edit hook
expect='' profile 3-hook-bash bash_call hook
expect='' profile 3-hook-start session_start hook

# A function's pattern: its section name with the crate hashes of its v0 symbol name
# (`Cs<hash>_`) replaced by `*`. Only names the linker script reads as one word are kept.
patterns() {
    sed -E -e '/^_R/s/Cs[0-9A-Za-z]+_/Cs*_/g' | grep -E '^[A-Za-z_][A-Za-z0-9_.$*]*$'
}

# callgrind names each object once as `ob=(N) path` and each function once as `fn=(M) name`
# (or `cob=`/`cfn=` when first seen as a call); later lines give only the number. A `fn=` line
# starts the costs of a function that ran, in the current `ob`. Each run's functions go to the
# file of its group (the number its name starts with).
awk -v bin="$bin" -v work="$work" '
    /^c?(ob|fn)=\(/ {
        key = $0; sub(/\).*/, ")", key); sub(/^c/, "", key)
        name = $0; sub(/^[a-z]+=\([0-9]+\) ?/, "", name)
        if (name != "") names[FILENAME key] = name
    }
    /^ob=/ { cur = names[FILENAME key] }
    /^fn=/ && cur == bin {
        group = FILENAME; sub(/.*\//, "", group); sub(/-.*/, "", group)
        print names[FILENAME key] > (work "/group" group)
    }
' "$work"/*.out

# One list per group, each function in the first group that ran it: the server's handshake and
# tool list first, packed closest, then what the prompt and resource lists add, then the hook's.
# Within a list the linker keeps its input order; one list per group, rather than a line per
# function, keeps the link fast (lld tests every section against every list).
{
    echo "/* Generated by link/profile-startup.sh: the functions maestro runs when it starts, kept"
    echo "   together so that a start touches few pages of code. See build.rs, startup_layout. */"
    echo "SECTIONS {"
    echo "  .text.hot : {"
    : >"$work/seen"
    total=0
    for group in "$work"/group*; do
        patterns <"$group" | LC_ALL=C sort -u | LC_ALL=C comm -23 - "$work/seen" >"$group.new"
        LC_ALL=C sort -u -o "$work/seen" "$work/seen" "$group.new"
        total=$((total + $(wc -l <"$group.new")))
        echo "    *("
        sed 's/.*/      .text.&/' "$group.new"
        echo "    )"
    done
    echo "  }"
    echo "} INSERT BEFORE .text;"
} >link/startup.ld.new
mv link/startup.ld.new link/startup.ld
echo "link/startup.ld: $total functions" >&2
