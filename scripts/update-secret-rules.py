#!/usr/bin/env python3
r"""Regenerate maestro's secret rules from gitleaks' default configuration.

    scripts/update-secret-rules.py GITLEAKS [--ref REF] [--version VERSION]

GITLEAKS is a gitleaks git repository (a checkout or a bare mirror: the files are read at REF,
default the newest release tag) or an unpacked release source tree (then give --version).
It reads `config/gitleaks.toml` and `LICENSE` and writes, under src/workspace/secret_rules/:

  gitleaks.json      the rules as data: id, regex (Go RE2 syntax; a `{` that starts no repetition
                     is escaped, as Rust's regex requires, and the name prefix `[\w.-]{0,50}?`
                     dropped, see NAME_PREFIX; nothing else changed), secret group,
                     keywords, entropy, rule allowlists without paths; the global allowlist;
                     the rules left out and why; where they came from (version, commit, date)
  examples.json      one generated example per rule, gitleaks' and maestro's own (maestro.json),
                     with the secret in it: the unit tests mask each one
  LICENSE.gitleaks   gitleaks' licence, under which the rules are taken

maestro.json (rules of maestro's own for formats gitleaks lacks) is read, never written.

Examples are generated from each rule's regex (gitleaks' own true positives are built at run
time by Go code, so there is no data to take) with a fixed seed per rule, so a rerun on the same
rules gives the same file. Python's `re` checks each example against the rule, its entropy and
its allowlists; that Rust's `regex` compiles every kept rule and masks every example is proven
by `cargo test --lib workspace::secret_rules`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import re._constants as C
import re._parser as sre
import string
import subprocess
import sys
import tomllib
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "workspace" / "secret_rules"

# Rules not taken, and why. A rule whose regex Rust's `regex` rejects belongs here too, with the
# error (the unit test names it).
SKIP = {
    "generic-api-key": (
        "any `<key-ish word> = <10+ characters>`: it masks ordinary code (`api_key = "
        "config.api_key_name`); maestro's own `assigned-secret` pattern covers `name = value` "
        "and tells code from literals"
    ),
}


def to_rust(go: str) -> str:
    """RE2 → Rust's `regex`: the same syntax but for a `{` that starts no repetition (`{{ x }}`,
    `${VAR}`), a literal in RE2 and an error in Rust, so it is escaped. Nothing else changes."""
    out, i, in_class = [], 0, False
    while i < len(go):
        c = go[i]
        if c == "\\":
            out.append(go[i : i + 2])
            i += 2
            continue
        if in_class:
            posix = re.match(r"\[:\w+:\]", go[i:])
            if posix:
                out.append(posix.group(0))
                i += len(posix.group(0))
                continue
            in_class = c != "]"
        elif c == "[":
            # `[`, `[^`, then a `]` that is a member, not the end (`[^]]`).
            opening = re.match(r"\[\^?\]?", go[i:]).group(0)
            out.append(opening)
            i += len(opening)
            in_class = True
            continue
        elif c == "{" and not re.match(r"\{\d+(?:,\d*)?\}", go[i:]):
            c = r"\{"
        out.append(c)
        i += 1
    return "".join(out)


# The start of gitleaks' `<name> = <value>` rules (`[\w.-]{0,50}?(?:heroku)…`): up to 50 name
# characters before the keyword, kept in gitleaks' report of the match. It cannot change which
# secret a rule finds (it is lazy and optional, and the secret is a later group), and without it
# the regex starts with its keyword, which the regex engine then finds with a literal search:
# on source code such a rule ran at ~200 MB/s with it and several times faster without.
NAME_PREFIX = r"[\w.-]{0,50}?"

# Constructs Go's RE2 accepts that Rust's `regex` does not (or reads differently).
UNSUPPORTED = [
    (re.compile(r"\\Q"), r"\Q…\E quoting"),
    (re.compile(r"\\C"), r"\C (any byte)"),
]


def read_source(repo: Path, ref: str | None, version: str | None) -> tuple[str, str, dict]:
    """(gitleaks.toml, LICENSE, where they came from)."""
    git = ["git", "-C", str(repo)]
    is_git = subprocess.run(git + ["rev-parse"], capture_output=True).returncode == 0
    if not is_git:
        if not version:
            sys.exit("not a git repository: give --version for a release source tree")
        toml = (repo / "config" / "gitleaks.toml").read_text()
        lic = (repo / "LICENSE").read_text()
        return toml, lic, {"version": version}

    def out(*args: str) -> str:
        return subprocess.run(git + list(args), capture_output=True, text=True, check=True).stdout

    if ref is None:
        # The newest release: a release tag need not be on the default branch (v8.30.1 is not).
        ref = out("tag", "--list", "v*", "--sort=-v:refname").split("\n")[0].strip()
    commit = out("rev-parse", f"{ref}^{{commit}}").strip()
    return (
        out("show", f"{commit}:config/gitleaks.toml"),
        out("show", f"{commit}:LICENSE"),
        {
            "version": version or out("describe", "--tags", "--always", commit).strip(),
            "commit": commit,
            "date": out("show", "-s", "--format=%cs", commit).strip(),
        },
    )


def allowlist(a: dict) -> dict | None:
    """A rule's allowlist as maestro applies it, or None when it never applies to masking.

    maestro masks text with no path or commit: an AND allowlist with paths or commits can never
    hold, and in an OR allowlist those entries never match, so they are dropped.
    """
    if a.get("condition", "OR").upper() == "AND" and (a.get("paths") or a.get("commits")):
        return None
    kept = {}
    if a.get("regexes"):
        kept["target"] = a.get("regexTarget", "secret")
        kept["regexes"] = [to_rust(r) for r in a["regexes"]]
    if a.get("stopwords"):
        kept["stopwords"] = sorted({w.lower() for w in a["stopwords"]})
    return kept or None


def convert(rule: dict) -> tuple[dict | None, str | None]:
    """(the rule as maestro's data, or None and the reason it is left out)."""
    rid = rule["id"]
    if rid in SKIP:
        return None, SKIP[rid]
    if "regex" not in rule:
        return None, f"no content regex: it matches file names only ({rule.get('path', '')})"
    for pat, what in UNSUPPORTED:
        if pat.search(rule["regex"]):
            return None, f"uses {what}, which Rust's regex does not read as Go does"
    out = {"id": rid, "regex": to_rust(rule["regex"]).replace(NAME_PREFIX, ""), "keywords": sorted({k.lower() for k in rule.get("keywords", [])})}
    if not out["keywords"]:
        return None, "no keywords: it would run on every text"
    if rule.get("secretGroup"):
        out["secret_group"] = rule["secretGroup"]
    if rule.get("entropy"):
        out["entropy"] = rule["entropy"]
    allow = [a for a in map(allowlist, rule.get("allowlists", [])) if a]
    if allow:
        out["allow"] = allow
    if rule.get("path"):
        # A file-name condition maestro cannot check; the regex alone is specific enough.
        out["path_dropped"] = rule["path"]
    return out, None


# ---- Go's RE2 syntax as Python's `re` reads it (for generating and checking examples) ----

POSIX = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "digit": "0-9", "lower": "a-z", "upper": "A-Z",
    "space": r" \t\n\r\f\v", "word": "a-zA-Z0-9_", "xdigit": "0-9a-fA-F", "punct": r"!-/:-@\[-`{-~",
}


def to_python(go: str) -> str:
    """RE2 → Python `re`: `\\z`, POSIX classes, and flags set mid-pattern (`a(?i)b`), which
    RE2 scopes to the rest of the group and Python 3.11 refuses."""
    out, i, in_class, closes = [], 0, False, [0]
    while i < len(go):
        c = go[i]
        if c == "\\":
            esc = go[i : i + 2]
            out.append(r"\Z" if esc == r"\z" else esc)
            i += 2
            continue
        if in_class:
            m = re.match(r"\[:(\w+):\]", go[i:])
            if m:
                out.append(POSIX[m.group(1)])
                i += len(m.group(0))
                continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if go[i : i + 1] == "^":
                out.append("^")
                i += 1
            if go[i : i + 1] == "]":
                out.append(r"\]")
                i += 1
            continue
        m = re.match(r"\(\?([a-zA-Z-]+)\)", go[i:])
        if m and i > 0:
            out.append(f"(?{m.group(1)}:")
            closes[-1] += 1
            i += len(m.group(0))
            continue
        if c == "(":
            closes.append(0)
        elif c == ")":
            out.append(")" * closes.pop())
        out.append(c)
        i += 1
    out.append(")" * closes.pop())
    return "".join(out)


PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]
ALNUM = set(string.ascii_letters + string.digits)
CATEGORIES = {
    C.CATEGORY_DIGIT: set(string.digits),
    C.CATEGORY_WORD: ALNUM | {"_"},
    C.CATEGORY_SPACE: {" ", "\t", "\n"},
}


def class_chars(items) -> list[str]:
    """The printable ASCII characters (and space, tab, newline) an `IN` node allows."""
    allowed, negate = set(), False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            allowed.add(chr(av))
        elif op is C.RANGE:
            allowed.update(chr(c) for c in range(av[0], av[1] + 1))
        elif op is C.CATEGORY:
            for cat, chars in CATEGORIES.items():
                if av is cat:
                    allowed |= chars
            for cat, chars in {
                C.CATEGORY_NOT_DIGIT: CATEGORIES[C.CATEGORY_DIGIT],
                C.CATEGORY_NOT_WORD: CATEGORIES[C.CATEGORY_WORD],
                C.CATEGORY_NOT_SPACE: CATEGORIES[C.CATEGORY_SPACE],
            }.items():
                if av is cat:
                    allowed |= set(PRINTABLE) - chars
    universe = set(PRINTABLE) | {"\t", "\n"}
    chars = (universe - allowed) if negate else (allowed & universe)
    return sorted(chars)


def pick(chars: list[str], rng: random.Random) -> str:
    # Token-looking characters where the class allows them: examples read like real keys.
    alnum = [c for c in chars if c in ALNUM]
    if alnum and rng.random() < 0.9:
        return rng.choice(alnum)
    visible = [c for c in chars if c not in "\t\n"]
    return rng.choice(visible or chars)


def generate(nodes, rng: random.Random, extra: int) -> str:
    """A string the parsed pattern matches (most of the time; the caller checks)."""
    out = []
    for op, av in nodes:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append(pick([c for c in PRINTABLE if c != chr(av)], rng))
        elif op is C.ANY:
            out.append(pick(sorted(ALNUM), rng))
        elif op is C.IN:
            out.append(pick(class_chars(av), rng))
        elif op is C.BRANCH:
            alts = av[1]
            # The first alternative is most often the usual form (`=` before `:=`, `,`…).
            alt = alts[0] if rng.random() < 0.8 else rng.choice(alts)
            out.append(generate(alt, rng, extra))
        elif op is C.SUBPATTERN:
            out.append(generate(av[3], rng, extra))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            lo, hi, item = av
            hi = lo + 64 if hi is C.MAXREPEAT else hi
            # An optional part (`[\s'"]{0,3}`) mostly left out: examples read like real lines.
            if op is C.MIN_REPEAT or (lo == 0 and rng.random() < 0.7):
                n = lo
            else:
                n = lo + rng.randint(0, min(hi - lo, extra))
            out.extend(generate(item, rng, extra) for _ in range(n))
        elif op is C.AT:
            pass
        else:
            raise ValueError(f"cannot generate {op}")
    return "".join(out)


def entropy(s: str) -> float:
    """Shannon entropy in bits per character, as gitleaks computes it."""
    if not s:
        return 0.0
    counts = {c: s.count(c) for c in set(s)}
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


def secret_of(m: re.Match, group: int | None) -> tuple[int, int]:
    """The secret's span in a match: the rule's group, else the first non-empty group."""
    if group:
        return m.span(group)
    for g in range(1, (m.re.groups or 0) + 1):
        if m.group(g):
            return m.span(g)
    return m.span()


def allowed(rule: dict, glob: dict, text: str, m: re.Match, span: tuple[int, int]) -> bool:
    secret = text[span[0] : span[1]]
    line_start = text.rfind("\n", 0, m.start()) + 1
    line_end = text.find("\n", m.end())
    targets = {
        "secret": secret,
        "match": m.group(0),
        "line": text[line_start : len(text) if line_end < 0 else line_end],
    }
    for a in [glob] + rule.get("allow", []):
        target = targets[a.get("target", "secret")]
        if any(re.search(to_python(r), target) for r in a.get("regexes", [])):
            return True
        if any(w in secret.lower() for w in a.get("stopwords", [])):
            return True
    return False


# Text around each example: the tests check that it is kept.
WRAPS = [("found: ", " (end)"), ("found:\n", "\nend"), ("", "")]


def example(rule: dict, glob: dict) -> dict:
    """An example the rule masks: {id, text, secret}."""
    rx = re.compile(to_python(rule["regex"]))
    nodes = sre.parse(to_python(rule["regex"]))
    for attempt in range(400):
        rng = random.Random(f"{rule['id']}:{attempt}")
        match = generate(nodes, rng, extra=2 + attempt // 20)
        # gitleaks runs a rule only on text holding one of its keywords; a match that holds
        # none (`pat…` for Airtable) gets the first one named before it.
        lower = match.lower()
        named = "" if any(k in lower for k in rule["keywords"]) else rule["keywords"][0] + " "
        for before, after in WRAPS:
            text = before + named + match + after
            m = rx.search(text)
            if not m:
                continue
            span = secret_of(m, rule.get("secret_group"))
            secret = text[span[0] : span[1]]
            if (
                len(secret) >= 4
                and "\n" not in secret.strip("\n")
                and entropy(secret) > rule.get("entropy", 0)
                and not allowed(rule, glob, text, m, span)
                and text.count(secret) == 1
            ):
                return {"id": rule["id"], "text": text, "secret": secret}
    sys.exit(f"{rule['id']}: no example found in 400 attempts; add the rule to SKIP with a reason")


def dump_list(items: list) -> str:
    """One item a line: a changed rule is a one-line diff."""
    return "[\n" + ",\n".join("    " + json.dumps(i, ensure_ascii=False) for i in items) + "\n  ]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gitleaks", type=Path)
    ap.add_argument("--ref", help="a tag or commit (default: the newest v* tag)")
    ap.add_argument("--version", help="the version to record (default: git describe)")
    args = ap.parse_args()

    toml, licence, source = read_source(args.gitleaks, args.ref, args.version)
    config = tomllib.loads(toml)
    glob = config.get("allowlist", {})
    glob = {"regexes": [to_rust(r) for r in glob.get("regexes", [])], "stopwords": sorted({w.lower() for w in glob.get("stopwords", [])})}

    rules, skipped = [], []
    for r in config["rules"]:
        kept, why = convert(r)
        if kept:
            rules.append(kept)
        else:
            skipped.append({"id": r["id"], "reason": why})

    ours = json.loads((OUT / "maestro.json").read_text())["rules"]
    examples = [example(r, glob) for r in rules] + [example(r, {}) for r in ours]

    head = {
        "source": "gitleaks",
        "url": "https://github.com/gitleaks/gitleaks",
        "file": "config/gitleaks.toml",
        "license": "MIT (LICENSE.gitleaks)",
        **source,
        "generated_by": "scripts/update-secret-rules.py",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gitleaks.json").write_text(
        "{\n"
        + "".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items())
        + f'  "allowlist": {json.dumps(glob, ensure_ascii=False)},\n'
        + f'  "rules": {dump_list(rules)},\n'
        + f'  "skipped": {dump_list(skipped)}\n'
        + "}\n"
    )
    # Each rule's keywords, one line per rule in gitleaks.json's order, tab-separated: the
    # keyword pass reads this at every process's first `mask`, and a few hundred lines split
    # cost far less than parsing the whole rule file (which waits for a rule to wake).
    (OUT / "gitleaks.keywords").write_text(
        "".join("\t".join(k.lower() for k in r["keywords"]) + "\n" for r in rules)
    )
    (OUT / "examples.json").write_text(dump_list(examples).replace("\n  ]", "\n]") + "\n")
    (OUT / "LICENSE.gitleaks").write_text(licence)
    print(
        f"gitleaks {source['version']}: {len(rules)} rules kept, {len(skipped)} skipped "
        f"({', '.join(s['id'] for s in skipped)}); {len(examples)} examples"
    )


if __name__ == "__main__":
    main()
