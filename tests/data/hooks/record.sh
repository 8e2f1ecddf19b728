#!/bin/bash
# Re-records the hook inputs in this folder from the real Claude Code CLI, driven by the fake
# Messages API (tests/fakes/anthropic_api.py) instead of a model. See README.md.
#   tests/data/hooks/record.sh [CLAUDE_BIN]      (default: $MAESTRO_CLAUDE_BIN, then `claude`)
# The project and HOME sit at fixed paths so the recorded paths are stable and need no rewriting;
# `maestro serve` (target/debug/maestro, built first) is the MCP server behind mcp__maestro__*.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
claude=${1:-${MAESTRO_CLAUDE_BIN:-claude}}
maestro=$repo/target/debug/maestro
[ -x "$maestro" ] || { echo "build maestro first: cargo build" >&2; exit 1; }
P=/tmp/maestro-hook-project H=/tmp/maestro-hook-home
work=$(mktemp -d)
api_pid=
trap '[ -n "$api_pid" ] && kill "$api_pid"; rm -rf "$work" "$P" "$H"' EXIT
rm -rf "$P" "$H"
mkdir -p "$P/.claude" "$H/.claude" "$work/hooks"

# The hook: every input Claude Code sends lands in its own file, named by event and tool.
cat > "$work/rec.py" <<'PY'
import json, os, sys, time
raw = sys.stdin.read()
d = json.loads(raw)
name = d["hook_event_name"] + ("-" + d["tool_name"] if "tool_name" in d else "")
with open(os.path.join(sys.argv[1], f"{time.time_ns()}-{name}.json"), "w") as f:
    f.write(raw)
PY
rec="python3 $work/rec.py $work/hooks"
cat > "$P/.claude/settings.json" <<JSON
{"hooks": {
  "PreToolUse": [{"matcher": "*", "hooks": [{"type": "command", "command": "$rec"}]}],
  "SessionStart": [{"hooks": [{"type": "command", "command": "$rec"}]}],
  "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "$rec"}]}]
}}
JSON
cat > "$work/mcp.json" <<JSON
{"mcpServers": {"maestro": {"type": "stdio", "command": "$maestro", "args": ["serve"]}}}
JSON
printf 'hello\n' > "$P/notes.txt"
cat > "$P/analysis.ipynb" <<'NB'
{"cells":[{"cell_type":"code","execution_count":null,"id":"c1","metadata":{},"outputs":[],"source":["print(1)"]}],"metadata":{},"nbformat":4,"nbformat_minor":5}
NB
# One model turn per tool; Read comes before Edit and NotebookEdit because Claude Code refuses
# to edit a file the model has not read.
cat > "$work/script.json" <<JSON
{"turns": [
  {"tool_use": {"name": "Read", "input": {"file_path": "$P/notes.txt"}}},
  {"tool_use": {"name": "Edit", "input": {"file_path": "$P/notes.txt", "old_string": "hello", "new_string": "hello world"}}},
  {"tool_use": {"name": "Write", "input": {"file_path": "$P/plan.md", "content": "# Plan\n\n1. Fix the parser.\n"}}},
  {"tool_use": {"name": "Read", "input": {"file_path": "$P/analysis.ipynb"}}},
  {"tool_use": {"name": "NotebookEdit", "input": {"notebook_path": "$P/analysis.ipynb", "cell_id": "c1", "new_source": "print(2)", "edit_mode": "replace"}}},
  {"tool_use": {"name": "Bash", "input": {"command": "cargo test --lib parser", "description": "Run the parser tests"}}},
  {"tool_use": {"name": "Grep", "input": {"pattern": "fn parse", "path": "$P", "output_mode": "files_with_matches"}}},
  {"tool_use": {"name": "Glob", "input": {"pattern": "**/*.md"}}},
  {"tool_use": {"name": "mcp__maestro__status", "input": {}}},
  {"text": "done"}
]}
JSON
python3 "$repo/tests/fakes/anthropic_api.py" "$work/script.json" "$work/requests.jsonl" --port-file "$work/port" > /dev/null 2> "$work/api.err" &
api_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")

run() {
  (cd "$P" && env -i PATH=/usr/bin:/bin HOME="$H" CLAUDE_CONFIG_DIR="$H/.claude" \
    ANTHROPIC_BASE_URL="http://127.0.0.1:$port" ANTHROPIC_API_KEY=sk-ant-fake \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    timeout 120 "$claude" -p "$@" --permission-mode default --output-format json)
}
# Default mode, the common one; --allowedTools lets each tool run without a prompt. Grep and
# Glob are not in the native build's default tool set (it searches through Bash), so --tools
# names them.
tools=Read,Edit,Write,NotebookEdit,Bash,Grep,Glob
# A fixed session id keeps re-recorded files comparable (tests may name it).
session=6af7e315-04c9-47b5-89ab-7562cffd4eee
run "Fix the parser" --session-id "$session" --allowedTools "$tools,mcp__maestro" --tools "$tools" \
  --mcp-config "$work/mcp.json" --strict-mcp-config > /dev/null
run "Where were we?" --resume "$session" > /dev/null   # SessionStart source "resume"
run "/clear" > /dev/null                               # SessionStart source "clear"

python3 - "$work/hooks" "$here" <<'PY'
import json, os, sys
src, dst = sys.argv[1:]
names = {"Read": "pre_tool_use_read", "Edit": "pre_tool_use_edit", "Write": "pre_tool_use_write",
         "NotebookEdit": "pre_tool_use_notebook_edit", "Bash": "pre_tool_use_bash",
         "Grep": "pre_tool_use_grep", "Glob": "pre_tool_use_glob",
         "mcp__maestro__status": "pre_tool_use_mcp_maestro"}
sources = {"startup": "session_start", "resume": "session_start_resume", "clear": "session_start_clear"}
written = set()
for f in sorted(os.listdir(src)):  # named by time: the first of each kind wins
    with open(os.path.join(src, f)) as fh:
        d = json.load(fh)
    event = d["hook_event_name"]
    name = {"PreToolUse": lambda: names.get(d["tool_name"]),
            "SessionStart": lambda: sources.get(d["source"]),
            "UserPromptSubmit": lambda: "user_prompt_submit"}[event]()
    if name and name not in written:
        written.add(name)
        with open(os.path.join(dst, name + ".json"), "w") as out:
            json.dump(d, out, indent=2, ensure_ascii=False)
            out.write("\n")
missing = {*names.values(), *sources.values(), "user_prompt_submit"} - written
print("recorded:", " ".join(sorted(written)))
if missing:
    sys.exit("not recorded: " + " ".join(sorted(missing)))
PY
