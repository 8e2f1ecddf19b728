#!/usr/bin/env python3
"""Stand-in for the codex, gemini and claude CLIs: the same flags checked, the same output
formats (cli-providers.md), behaviour chosen by files in $HOME/.fake/ (the environment is
cleared by maestro, HOME is passed):
  mode    ok | auth | model | ratelimit | ratelimit-once | slow | hang | daemon | flood | nonutf8 | signal | noise
          (daemon: leaves a double-forked daemon holding stdout, its pid in .fake/daemon, then answers)
  delay   seconds for `slow`
  answer  text of the answer
  echo    when present, the answer is the whole prompt it received (to see what was sent)
A follow-up that resumes a session (`codex exec resume ID`, `claude --resume ID`) answers with
RESUMED(ID) in front.
The answer names the prompt's length and sha256 prefix, so a test can tell it came on stdin."""
import hashlib, json, os, signal, subprocess, sys, time

cli = sys.argv[1]
args = sys.argv[2:]
home = os.environ.get("HOME", "/nonexistent")
fake = os.path.join(home, ".fake")

def setting(name, default=""):
    try:
        with open(os.path.join(fake, name)) as f:
            return f.read().strip()
    except OSError:
        return default

if "--help" in args:
    name = "codex-exec" if cli == "codex" else cli
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "help", name + ".txt")) as f:
        sys.stdout.write(f.read())
    sys.exit(0)

if args == ["--version"]:
    print({"codex": "codex-cli 0.169.0", "gemini": "0.61.0", "claude": "2.1.328 (Claude Code)"}[cli])
    sys.exit(0)

REQUIRED = {
    "codex": ["exec", "--json", "--sandbox", "read-only", "--skip-git-repo-check", "-"],
    "gemini": ["-p", "", "-o", "json", "--approval-mode", "plan", "--skip-trust"],
    "claude": ["-p", "--output-format", "json", "--strict-mcp-config", "--permission-mode", "dontAsk"],
}[cli]
for flag in REQUIRED:
    if flag not in args:
        sys.stderr.write(f"error: expected argument '{flag}'\n")
        sys.exit(2)
model = args[args.index("-m") + 1] if "-m" in args else (args[args.index("--model") + 1] if "--model" in args else "?")

mode = setting("mode", "ok")
if mode == "ratelimit-once":
    marker = os.path.join(fake, "rated")
    if os.path.exists(marker):
        mode = "ok"
    else:
        open(marker, "w").close()
        mode = "ratelimit"

prompt = sys.stdin.buffer.read()
digest = hashlib.sha256(prompt).hexdigest()[:12]
body = prompt.decode("utf-8", "replace") if os.path.exists(os.path.join(fake, "echo")) else setting("answer", "looks fine")
resumed = ""
for flag in ("resume", "--resume"):
    if flag in args and args.index(flag) + 1 < len(args):
        resumed = f"RESUMED({args[args.index(flag) + 1]}) "
answer = f"{resumed}ANSWER({len(prompt)}:{digest}) " + body + f" [model {model}]"
out = sys.stdout

if mode == "slow":
    time.sleep(float(setting("delay", "1")))
    mode = "ok"
if mode == "hang":
    child = subprocess.Popen(["sleep", "1000"])
    with open(os.path.join(fake, "grandchild"), "w") as f:
        f.write(str(child.pid))
    out.write('{"type":"thread.started","thread_id":"t"}\n' if cli == "codex" else "")
    out.flush()
    child.wait()
    sys.exit(0)
if mode == "daemon":
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(os.path.join(fake, "daemon.tmp"), "w") as f:
                f.write(str(os.getpid()))
            os.rename(os.path.join(fake, "daemon.tmp"), os.path.join(fake, "daemon"))
            os.write(w, b"x")
            time.sleep(1000)
        os._exit(0)
    os.read(r, 1)
    os.wait()
    mode = "ok"
if mode == "flood":
    chunk = "x" * 65536
    for _ in range(200):
        out.write(chunk)
    sys.exit(0)
if mode == "nonutf8":
    sys.stdout.buffer.write(b"\xff\xfe not json \xc3\x28\n")
    sys.exit(0)
if mode == "signal":
    os.kill(os.getpid(), signal.SIGKILL)

if cli == "codex":
    def ev(o):
        out.write(json.dumps(o) + "\n")
    ev({"type": "thread.started", "thread_id": "0199a3c2-5f10-7d21-9a0e-2b7c4e81d0aa"})
    ev({"type": "turn.started"})
    if mode in ("ok", "noise"):
        if mode == "noise":
            ev({"type": "error", "message": "Reconnecting... 2/5 (stream disconnected before completion)"})
        ev({"type": "item.completed", "item": {"id": "item_0", "type": "reasoning", "text": "**Reading**"}})
        ev({"type": "item.completed", "item": {"id": "item_1", "type": "agent_message", "text": answer}})
        ev({"type": "turn.completed", "usage": {"input_tokens": 5120, "cached_input_tokens": 3072, "output_tokens": 214}})
        sys.exit(0)
    msg = {
        "auth": "unexpected status 401 Unauthorized: Incorrect API key provided",
        "model": json.dumps({"type": "error", "status": 400, "error": {"type": "invalid_request_error", "message": f"The '{model}' model is not supported when using Codex with a ChatGPT account."}}),
        "ratelimit": "You've hit your usage limit. Try again later.",
    }[mode]
    ev({"type": "error", "message": msg})
    ev({"type": "turn.failed", "error": {"message": msg}})
    sys.exit(1)

if cli == "gemini":
    if mode in ("ok", "noise"):
        sys.stderr.write("Warning: 256-color support not detected.\n")
        tokens = {"input": 1900, "prompt": 2400, "candidates": 180, "total": 2930, "cached": 500, "thoughts": 350, "tool": 0}
        doc = {"session_id": "5b0e6f0a-2d4b-4c59-9a51-6f3d2a7c9e10", "response": answer,
               "stats": {"models": {model: {"api": {"totalRequests": 1, "totalErrors": 0, "totalLatencyMs": 6120, "errorsByType": {}},
                                           "tokens": tokens, "roles": {"main": {"totalRequests": 1, "totalErrors": 0, "totalLatencyMs": 6120, "tokens": tokens}}}},
                         "tools": {"totalCalls": 0}, "files": {"totalLinesAdded": 0, "totalLinesRemoved": 0}}}
        out.write(json.dumps(doc, indent=2) + "\n")
        sys.exit(0)
    code, msg = {
        "auth": (41, "Please set an Auth method in your /home/u/.gemini/settings.json or specify one of the following environment variables before running: GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, GOOGLE_GENAI_USE_GCA"),
        "model": (1, f"Requested entity was not found: models/{model} may not exist"),
        "ratelimit": (429, "Resource has been exhausted (e.g. check quota). rate limit"),
    }[mode]
    sys.stderr.write("Warning: 256-color support not detected.\n")
    sys.stderr.write(json.dumps({"session_id": "c222b781", "error": {"type": "Error", "message": msg, "code": code}}, indent=2) + "\n")
    sys.exit(code % 256)

if cli == "claude":
    base = {"type": "result", "duration_ms": 9412, "duration_api_ms": 8870, "num_turns": 1, "stop_reason": "end_turn",
            "session_id": "8d3c1f2e-7a45-4b0e-9c61-0f2b5d7e4a11", "permission_denials": [], "uuid": "f0a9e3b4"}
    if mode in ("ok", "noise"):
        base.update({"subtype": "success", "is_error": False, "result": answer, "total_cost_usd": 0.0342,
                     "usage": {"input_tokens": 18, "cache_creation_input_tokens": 2100, "cache_read_input_tokens": 14000, "output_tokens": 260},
                     "modelUsage": {}, "terminal_reason": "completed"})
        out.write(json.dumps(base) + "\n")
        sys.exit(0)
    result, api_error = {
        "auth": ("Not logged in · Please run /login", None),
        "model": (f"There's an issue with the selected model ({model}). It may not exist or you may not have access to it.", "model_not_found"),
        "ratelimit": ("You've hit your session limit · resets 5pm", "rate_limit"),
    }[mode]
    base.update({"subtype": "success", "is_error": True, "result": result, "total_cost_usd": 0, "usage": {"input_tokens": 0, "output_tokens": 0},
                 "modelUsage": {}, "api_error_status": None, "terminal_reason": "api_error"})
    if api_error:
        base["api_error"] = api_error
    out.write(json.dumps(base) + "\n")
    sys.exit(1)
