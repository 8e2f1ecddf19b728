#!/usr/bin/env python3
"""Stand-in for the Anthropic Messages API, so the real Claude Code CLI runs in tests without a
model or a network. Python 3.11 standard library only.

    anthropic_api.py SCRIPT LOG [--port-file FILE]

Listens on 127.0.0.1 on a free port; the port goes on the first stdout line (and into FILE when
given). SCRIPT is a JSON file: {"turns": [TURN, ...]} (or just the list). The main conversation's
requests get the turns in order; a TURN is one of
    {"text": "done"}
    {"tool_use": {"name": "Edit", "input": {...}}}          (an "id" is made up when absent)
    {"content": [BLOCK, ...]}                               (several blocks, e.g. text + tool_use)
and the reply's stop_reason is "tool_use" when it holds a tool_use block, else "end_turn". Once the
script is used up every further main request gets the text "script exhausted", so a CLI that
asks more than a test expected ends instead of looping or stalling.

An id the script cannot know in advance: inside a tool_use's input, the string `$RUN_ID` (alone
or within a longer string, at any depth) becomes the first maestro run id (`run-` and 10
lower-case letters and digits, as `new_id("run")` makes them) found in the tool_result blocks of
the request being answered (its messages hold the whole conversation, a resumed one included),
else in those of an earlier request. With no run id seen yet, the turn is answered with a text
naming the problem instead (and a line on stderr), so the test fails on it rather than sending
a literal `$RUN_ID` to maestro.

Every request is appended to LOG as one JSON line: {"method", "path", "kind", "turn", "body"}
(and "loads" for a ToolSearch call the fake made up), kind "main" (answered from the script),
"side" (a call that is not the conversation, answered with a short text without consuming the
script), "count_tokens" or "other".

Deferred tools: Claude Code 2.1.328 and 2.1.337 (2.1.197 does not) send MCP tools and some of
their own (EnterWorktree, NotebookEdit, ...) only by name, in a system message, and offer
`ToolSearch`; the model calls it with `select:NAME`, its result holds a `tool_reference` to the
tool, and the next request carries the tool's definition (with `defer_loading`). A model cannot
call a tool it was not shown, so when a scripted tool_use names a tool this request does not
show and the request offers ToolSearch, the fake first answers with that ToolSearch call (for
every such name of the turn), without using up the turn, and gives the scripted turn to the
next request. It searches for a name once: a tool the search did not load is then called
anyway, and the CLI answers that call as it does any unknown tool. The log marks such answers
with "loads": [NAMES].

Which requests are the conversation: Claude Code 2.1 sends it streaming, with its tool list and
its agent system prompt ("You are an interactive agent that helps users with software engineering
tasks"). Its own side calls (a session title, a model probe with max_tokens 1, a compaction
summary) carry no tools and another system prompt; none were seen in `-p` runs of 2.1.197, but
a future version may add one, and it must not eat a turn meant for the agent. Besides, before
the first request the CLI sends `HEAD /` to warm the connection (answered 200)."""
import json, os, random, re, string, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = sys.argv[1:]
port_file = None
if "--port-file" in args:
    i = args.index("--port-file")
    port_file = args[i + 1]
    del args[i : i + 2]
if len(args) != 2:
    sys.stderr.write("usage: anthropic_api.py SCRIPT LOG [--port-file FILE]\n")
    sys.exit(2)
script_path, log_path = args

try:
    with open(script_path) as f:
        script = json.load(f)
except (OSError, ValueError) as e:
    sys.stderr.write(f"{script_path}: cannot read the script: {e}\n")
    sys.exit(2)
turns = script["turns"] if isinstance(script, dict) else script
if not isinstance(turns, list):
    sys.stderr.write(f"{script_path}: expected {{\"turns\": [...]}} or a list of turns\n")
    sys.exit(2)


def make_id(prefix):
    """An id shaped like the API's (`toolu_01` then 22 letters and digits), so recorded hook
    inputs that carry one look like the real thing."""
    return prefix + "_01" + "".join(random.choices(string.ascii_letters + string.digits, k=22))


lock = threading.Lock()
state = {"next": 0, "run_id": None, "searched": set()}

RUN_ID = "$RUN_ID"
RUN_ID_PATTERN = re.compile(r"\brun-[0-9a-z]{10}\b")


def run_id_in(body):
    """The first run id in the tool_result blocks of a request's messages, or None."""
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        for b in content if isinstance(content, list) else []:
            if isinstance(b, dict) and b.get("type") == "tool_result":
                found = RUN_ID_PATTERN.search(json.dumps(b.get("content")))
                if found:
                    return found.group(0)
    return None


def substitute(value, run_id):
    """`value` with every `$RUN_ID` in its strings replaced by `run_id`."""
    if isinstance(value, str):
        return value.replace(RUN_ID, run_id)
    if isinstance(value, list):
        return [substitute(v, run_id) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, run_id) for k, v in value.items()}
    return value


def wants_run_id(blocks):
    return any(b["type"] == "tool_use" and RUN_ID in json.dumps(b["input"]) for b in blocks)


def blocks_of(turn):
    """The content blocks of one scripted turn, each tool_use given an id."""
    if not isinstance(turn, dict):
        raise ValueError("a turn is an object")
    if "content" in turn:
        blocks = [dict(b) for b in turn["content"]]
    elif "tool_use" in turn:
        blocks = [{"type": "tool_use", **turn["tool_use"]}]
    elif "text" in turn:
        blocks = [{"type": "text", "text": turn["text"]}]
    else:
        raise ValueError("a turn needs text, tool_use or content")
    for b in blocks:
        if b["type"] == "tool_use":
            b.setdefault("id", make_id("toolu"))
            b.setdefault("input", {})
    return blocks


TOOL_SEARCH = "ToolSearch"


def shown_tools(body):
    """The tools the model sees in a request: those in `tools`, except a `defer_loading` one
    until a `tool_reference` in the conversation has loaded it (as the API does)."""
    referenced = set()
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        for b in content if isinstance(content, list) else []:
            if not (isinstance(b, dict) and b.get("type") == "tool_result" and isinstance(b.get("content"), list)):
                continue
            for r in b["content"]:
                if isinstance(r, dict) and r.get("type") == "tool_reference":
                    referenced.add(r.get("tool_name"))
    shown = set()
    for t in body.get("tools") or []:
        if isinstance(t, dict) and (not t.get("defer_loading") or t.get("name") in referenced):
            shown.add(t.get("name"))
    return shown


def to_load(body, blocks, searched):
    """The tools of a scripted turn a model would first load with ToolSearch: not shown in this
    request, not searched for yet, and ToolSearch offered."""
    shown = shown_tools(body)
    if TOOL_SEARCH not in shown:
        return []
    names = [b["name"] for b in blocks if b["type"] == "tool_use"]
    return sorted({n for n in names if n not in shown and n not in searched})


AGENT_PROMPT = "You are an interactive agent"


def is_main(body):
    system = body.get("system")
    text = system if isinstance(system, str) else " ".join(b.get("text", "") for b in system or [] if isinstance(b, dict))
    return bool(body.get("tools")) or AGENT_PROMPT in text


def message(model, blocks):
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": make_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def sse_events(msg):
    """The events the streaming API sends for one finished message."""
    start = dict(msg, content=[], stop_reason=None)
    start["usage"] = dict(msg["usage"], output_tokens=1)
    yield "message_start", {"type": "message_start", "message": start}
    for i, b in enumerate(msg["content"]):
        if b["type"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": b["text"]}}
        elif b["type"] == "tool_use":
            yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}}
            yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": json.dumps(b["input"])}}
        else:
            yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": b}
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None}, "usage": {"output_tokens": msg["usage"]["output_tokens"]}}
    yield "message_stop", {"type": "message_stop"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("anthropic_api: " + (fmt % a) + "\n")

    def record(self, kind, turn, body, loads=None):
        entry = {"method": self.command, "path": self.path, "kind": kind, "turn": turn, "body": body}
        if loads:
            entry["loads"] = loads
        line = json.dumps(entry)
        with lock, open(log_path, "a") as f:
            f.write(line + "\n")

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", make_id("req"))
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def do_GET(self):
        self.record("other", None, None)
        path = self.path.split("?")[0]
        if path.startswith("/v1/models"):
            self.send_json(200, {"data": [], "has_more": False, "first_id": None, "last_id": None})
        else:
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": f"fake API: no {path}"}})

    def do_HEAD(self):
        self.record("other", None, None)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.read_body()
        path = self.path.split("?")[0]
        if path == "/v1/messages/count_tokens":
            self.record("count_tokens", None, body)
            self.send_json(200, {"input_tokens": 100})
            return
        if path != "/v1/messages" or not isinstance(body, dict):
            self.record("other", None, body)
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": f"fake API: no {path}"}})
            return
        loads = None
        if is_main(body):
            with lock:
                turn = state["next"]
                blocks = blocks_of(turns[turn]) if turn < len(turns) else [{"type": "text", "text": "script exhausted"}]
                loads = to_load(body, blocks, state["searched"])
                if loads:
                    state["searched"].update(loads)
                else:
                    state["next"] += 1
                state["run_id"] = run_id_in(body) or state["run_id"]
                run_id = state["run_id"]
            if loads:
                blocks = [{"type": "tool_use", "id": make_id("toolu"), "name": TOOL_SEARCH, "input": {"query": "select:" + ",".join(loads)}}]
            elif wants_run_id(blocks):
                if run_id:
                    blocks = [substitute(b, run_id) if b["type"] == "tool_use" else b for b in blocks]
                else:
                    problem = f"fake API: turn {turn + 1} uses {RUN_ID}, but no tool_result so far holds a run id (run-...)"
                    sys.stderr.write(problem + "\n")
                    blocks = [{"type": "text", "text": problem}]
            kind = "main"
        else:
            turn, kind = None, "side"
            blocks = [{"type": "text", "text": "Side answer"}]
        self.record(kind, turn, body, loads)
        msg = message(body.get("model", "claude-test"), blocks)
        if not body.get("stream"):
            self.send_json(200, msg)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", make_id("req"))
        self.send_header("connection", "close")
        self.end_headers()
        for name, data in sse_events(msg):
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True


def check(i, turn):
    """A bad script fails at start with the turn it is about, not mid-run inside the CLI."""
    try:
        blocks = blocks_of(turn)
        for b in blocks:
            if b.get("type") == "tool_use" and not isinstance(b.get("name"), str):
                raise ValueError("a tool_use needs a name")
            if b.get("type") == "text" and not isinstance(b.get("text"), str):
                raise ValueError("a text block needs a text string")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        sys.stderr.write(f"{script_path}: turn {i + 1}: {e}: {json.dumps(turn)}\n")
        sys.exit(2)


for i, turn in enumerate(turns):
    check(i, turn)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
port = server.server_address[1]
if port_file:
    with open(port_file + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.replace(port_file + ".tmp", port_file)
print(port, flush=True)
server.serve_forever()
