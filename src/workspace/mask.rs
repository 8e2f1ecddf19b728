//! One masking function for everything maestro sends to a provider, stores or logs.
//!
//! Two layers. The patterns here are maestro's own, for what needs judgement or more than one
//! line (a `name = value` literal or code, a private key block cut short, a URL's password,
//! and the formats maestro always named); vendors' token formats come from a maintained rule
//! set kept as data (gitleaks' default rules, see `secret_rules`), which runs after them on
//! what they left.
//!
//! Most text has nothing to mask, and the engine masks every string it stores, so the common
//! case must be cheap and return the text borrowed. In front of all, one Aho–Corasick pass
//! ([`WAKE`]) looks for every pattern's keywords, both layers' (`sk-`, `-----begin `, `://`,
//! `password`, `npm_`…): a text with none is returned as it is, and of the rest only the
//! patterns whose keywords it holds run (a rule is compiled the first time it runs, so the
//! first call of a process compiles nothing it does not need). Every pattern here but one
//! starts with a literal, which the regex engine finds with a SIMD prefilter; the
//! `name = value` pattern has no literal start, so a literal [`ANCHOR`] (the name's keyword
//! and a separator) finds the lines worth a full match, which never crosses a line. A match
//! judged to be code is kept and costs no copy.
//!
//! Word boundaries are ASCII (`(?-u:\b)`): a Unicode `\b` makes the fast DFA give up on any
//! non-ASCII byte (packed context is full of `…` and `–`), and secrets are ASCII anyway.

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};

use regex::{Captures, Regex};

use super::secret_rules;
use super::secret_rules::keywords::Keywords;

/// How a match becomes masked text.
#[derive(Clone, Copy)]
enum Replace {
    /// The whole match is the secret.
    Whole,
    /// `scheme://user:PASSWORD@host`: group 1 is kept, the password masked, `@` kept.
    UrlPassword,
    /// `Bearer <token68>`, masked whole, unless it is a challenge's parameter
    /// (`Bearer resource_metadata="…"`), which names no secret.
    Credentials,
    /// `key = value`: the value is masked when it is a literal, kept when it is code
    /// (`read_password()`, `String,`, `args.password`, `${VAR}`).
    Assigned,
}

/// A line of key material after `BEGIN … PRIVATE KEY`: base64, an armor header
/// (`Version: …`), blank, or the same with a packed excerpt's `  12 | ` margin or an "omitted"
/// marker. The block runs over such lines to its END line, or, when the END line is missing
/// (a cut file, a truncated excerpt), to the first line that is none of these: never across
/// ordinary text to some other key's END.
const KEY_LINE: &str = r"[ \t]*(?:[0-9]+ \| )?[ \t]*(?:[A-Za-z0-9+/=]+|[A-Za-z][A-Za-z0-9-]*: [^\n]*|\[… lines [^\n]*)?[ \t\r]*";

/// Declaration keywords before the name (`let token = next`, `pub trait Secret: Debug`):
/// then a bare word after the separator is a name in code, not a literal.
const DECLARATION: &str = r"(?P<decl>(?-u:\b)(?:(?:pub|let|mut|const|var|val|auto|my|static|final|local|readonly|private|protected|public|export|trait|struct|enum|type|class|interface|fn|def|impl)[ \t]+)+)?";

/// Names whose value is a secret: an identifier (any prefix: `DB_`, `POSTGRES_`, `DJANGO_`,
/// camelCase) ending in one of these words, optionally quoted (JSON, also JSON inside a JSON
/// string).
const SECRET_NAME: &str = r#"(?P<key>(?:\\?["'])?(?-u:\b)[A-Za-z0-9_.\-]*?(?i:password|passwd|passphrase|secret|secret[_\-]?key|(?:api|access|private|client|encryption|signing|master)[_\-]?key|apikey|token|[a-z0-9]+_pwd)(?-u:\b)(?:\\?["'])?)"#;

/// A type annotation between the name and `=` (`const KEY: &str = "…"`,
/// `api_key: Optional[str] = None`), so the literal after `=` is judged, not the type.
const TYPE_ANNOTATION: &str = r"(?P<ty>[ \t]*:[ \t]*&?(?:'[a-z_]+[ \t]+)?(?:mut[ \t]+)?[A-Za-z_][A-Za-z0-9_:<>,\[\]]*[ \t]+)?";

/// The separator (on the same line) and the value: a string literal (also `b"…"`/`r"…"`, and
/// with escaped quotes as inside a JSON string) or one unquoted word that does not start a
/// comparison (`==`), then a `,`/`;` if one follows.
const ASSIGNED_VALUE: &str = r#"(?P<sep>[ \t]*(?::=|=>|:|=)[ \t]*)(?P<val>\\"(?:[^"\\\n]|\\[^"\n])*\\"|(?:[bBrRfFuU]{1,2}(?-u:\b))?"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[^\s"'=,;][^\s"',;]*)(?P<end>[,;])?"#;

struct Pattern {
    /// `[masked:<kind>]`
    label: String,
    /// One of these (matched ASCII-case-insensitively) is in every text the pattern matches:
    /// the literal it starts with or must contain, or for `assigned-secret` the names
    /// [`ANCHOR`] looks for. A text with none of them is not searched with the pattern.
    keywords: Vec<String>,
    source: String,
    /// Compiled at the first text that wakes the pattern: a URL compiles `url-password` alone,
    /// not the `name = value` pattern (the largest, ~2 ms).
    re: OnceLock<Regex>,
    replace: Replace,
}

impl Pattern {
    fn regex(&self) -> &Regex {
        self.re
            .get_or_init(|| Regex::new(&self.source).expect("masking patterns are valid"))
    }
}

/// (what it is, its keywords, pattern, how to replace). Patterns match the secret itself, not
/// its surroundings, except where a label is needed to tell a secret from an ordinary word.
static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let private_key = format!(
        r"(?m)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[^\n]*(?:\n{KEY_LINE}$)*(?:\n[ \t]*(?:[0-9]+ \| )?[ \t]*-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?"
    );
    let assigned = format!("{DECLARATION}{SECRET_NAME}{TYPE_ANNOTATION}{ASSIGNED_VALUE}");
    let mut name_keywords: Vec<String> = NAME_WORDS.iter().map(|w| (*w).to_string()).collect();
    for p in KEY_PREFIXES {
        name_keywords.extend(["key", "_key", "-key"].map(|k| format!("{p}{k}")));
    }
    name_keywords.push("_pwd".into());
    let specs: Vec<(&'static str, Vec<String>, String, Replace)> = vec![
        ("private-key", words(&["-----begin "]), private_key, Replace::Whole),
        ("anthropic-key", words(&["sk-"]), r"(?-u:\b)sk-ant-[A-Za-z0-9_\-]{20,}".into(), Replace::Whole),
        (
            "openai-key",
            words(&["sk-"]),
            r"(?-u:\b)sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}".into(),
            Replace::Whole,
        ),
        ("google-key", words(&["aiza"]), r"(?-u:\b)AIza[0-9A-Za-z_\-]{35}(?-u:\b)".into(), Replace::Whole),
        (
            "github-token",
            words(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
            r"(?-u:\b)(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}(?-u:\b)|(?-u:\b)github_pat_[A-Za-z0-9_]{22,}(?-u:\b)".into(),
            Replace::Whole,
        ),
        // With a routable token's `.<2><7>` tail: masking up to the dot would leave it behind.
        (
            "gitlab-token",
            words(&["glpat-"]),
            r"(?-u:\b)glpat-[A-Za-z0-9_\-]{20,}(?:\.[0-9a-z]{9})?(?-u:\b)".into(),
            Replace::Whole,
        ),
        (
            "slack-token",
            words(&["xox", "xapp-"]),
            r"(?-u:\b)(?:xox[abposre]|xapp)-[A-Za-z0-9\-]{10,}(?-u:\b)".into(),
            Replace::Whole,
        ),
        ("aws-access-key", words(&["akia", "asia"]), r"(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)".into(), Replace::Whole),
        ("stripe-key", words(&["k_live_"]), r"(?-u:\b)[sr]k_live_[0-9A-Za-z]{16,}(?-u:\b)".into(), Replace::Whole),
        ("huggingface-token", words(&["hf_"]), r"(?-u:\b)hf_[A-Za-z0-9]{30,}(?-u:\b)".into(), Replace::Whole),
        (
            "jwt",
            words(&["eyj"]),
            r"(?-u:\b)eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}".into(),
            Replace::Whole,
        ),
        (
            "bearer-token",
            words(&["bearer"]),
            r#"(?i:authorization:[ \t]*bearer|bearer)[ \t]+[A-Za-z0-9._~+/\-]{16,}(?:=+(?P<param>["A-Za-z0-9])?)?"#.into(),
            Replace::Credentials,
        ),
        (
            "basic-auth",
            words(&["authorization:"]),
            r"(?i:authorization:[ \t]*basic)[ \t]+[A-Za-z0-9+/]{8,}=*".into(),
            Replace::Whole,
        ),
        (
            "aws-secret",
            words(&["aws_secret_access_key"]),
            r#"(?i:aws_secret_access_key)[ \t]*[:=][ \t]*["']?[A-Za-z0-9/+]{40}["']?"#.into(),
            Replace::Whole,
        ),
        (
            "url-password",
            words(&["://"]),
            r"((?-u:\b)[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)([^\s/?#]+)@".into(),
            Replace::UrlPassword,
        ),
        ("assigned-secret", name_keywords, assigned, Replace::Assigned),
    ];
    specs
        .into_iter()
        .map(|(kind, keywords, source, replace)| Pattern {
            label: masked(kind),
            keywords,
            source,
            re: OnceLock::new(),
            replace,
        })
        .collect()
});

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|w| (*w).to_string()).collect()
}

/// Words a secret's name may end in (with [`KEY_PREFIXES`]), as [`SECRET_NAME`] spells them.
const NAME_WORDS: [&str; 6] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
];

/// `<prefix>key`, `<prefix>_key` and `<prefix>-key` end a secret's name too.
const KEY_PREFIXES: [&str; 8] = [
    "api",
    "access",
    "private",
    "client",
    "encryption",
    "signing",
    "master",
    "secret",
];

/// The keywords of [`SECRET_NAME`] in lower, Capitalized and UPPER case (as names are
/// written: `db_password`, `dbPassword`, `DB_PASSWORD`, `apiKey`, `API_KEY`), then the
/// separator. Literal alternatives, so the engine scans for them with a prefilter; a line
/// without one cannot hold a `name = value` secret. Mixed case (`PassWord`) is not a name
/// maestro recognises.
static ANCHOR: LazyLock<Regex> = LazyLock::new(|| {
    let cased = |w: &str| {
        let mut cap = w.to_string();
        cap[..1].make_ascii_uppercase();
        [w.to_string(), cap, w.to_ascii_uppercase()]
    };
    let mut words: Vec<String> = NAME_WORDS.iter().flat_map(|w| cased(w)).collect();
    for p in KEY_PREFIXES {
        for [a, k] in [
            [p.to_string(), "key".into()],
            [p.to_string(), "Key".into()],
            [cased(p)[1].clone(), "Key".into()],
            [p.to_ascii_uppercase(), "Key".into()],
            [p.to_ascii_uppercase(), "KEY".into()],
        ] {
            words.push(format!(r"{a}[_\-]?{k}"));
        }
    }
    words.extend(["_pwd".into(), "_PWD".into()]);
    Regex::new(&format!(
        r#"(?:{})(?-u:\b)(?:\\?["'])?[ \t]*[:=]"#,
        words.join("|")
    ))
    .expect("the anchor is valid")
});

/// The one keyword pass: [`PATTERNS`]' keywords first, then the rule set's, in their orders.
static WAKE: LazyLock<Keywords> = LazyLock::new(|| {
    let ours = PATTERNS.iter().map(|p| p.keywords.clone());
    Keywords::new(
        ours.chain(secret_rules::keywords())
            .collect::<Vec<Vec<String>>>(),
    )
});

/// Values after a secret's name that are types, keywords or placeholders, not secrets.
const NOT_A_VALUE: [&str; 44] = [
    "string",
    "str",
    "bool",
    "boolean",
    "int",
    "integer",
    "number",
    "float",
    "double",
    "bytes",
    "char",
    "none",
    "null",
    "nil",
    "undefined",
    "true",
    "false",
    "option",
    "optional",
    "secret",
    "secretstring",
    "password",
    "text",
    "any",
    "object",
    "self",
    "this",
    "required",
    "impl",
    "dyn",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
];

/// `${VAR}`, `$VAR`, `{{ var }}`, `%(var)s`, `<your password>`, or something already masked:
/// a reference to a secret, not one.
pub(super) fn is_reference(v: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    v.starts_with("[masked:")
        || (v.starts_with("${") && v.ends_with('}'))
        || v.strip_prefix('$').is_some_and(ident)
        || (v.starts_with("{{") && v.ends_with("}}"))
        || (v.starts_with("%(") && v.ends_with(")s"))
        || (v.starts_with('<') && v.ends_with('>'))
}

/// `a`, `args.password`, `config::KEY`: a name in code.
fn is_path_of_names(v: &str) -> bool {
    !v.is_empty()
        && !v.ends_with('.')
        && v.split(['.', ':']).filter(|s| !s.is_empty()).all(|s| {
            s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        })
}

/// `42`, `0x17`, `1_000`.
fn is_number(v: &str) -> bool {
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .map_or((v, 10), |h| (h, 16));
    !digits.0.is_empty() && digits.0.chars().all(|c| c == '_' || c.is_digit(digits.1))
}

/// What surrounds a value: enough to tell code from a config line.
struct Context<'a> {
    key: &'a str,
    sep: &'a str,
    /// `let`, `pub`, `const`… before the name, or a type annotation after it.
    declared: bool,
    /// A `,`/`;`/`)` after the value.
    punctuated: bool,
}

/// Whether an unquoted value after a secret's name is code (a call, a type, a name, a
/// reference, a constant) rather than a literal secret.
///
/// `password=abc` and `DB_PASSWORD: s3cr3t` are secrets; `password: String,`,
/// `let password = read_password();`, `password = args.password;` and `token: Token,` are
/// code. Code puts spaces around `=`/`:` and ends statements and fields with `;`/`,`; env and
/// config files do neither, so a bare name after a spaced separator with trailing punctuation
/// is taken for code, and a bare word otherwise for a secret.
fn is_code(cx: &Context<'_>, core: &str) -> bool {
    let spaced = cx.sep.contains([' ', '\t']);
    let bare = core.trim_start_matches(['&', '?']);
    let key = cx.key.trim_matches(['"', '\'', '\\']).to_ascii_lowercase();
    core.is_empty()
        || is_reference(core)
        // `{key:?}` (a format spec), `Key::new` (a path), `${VAR}`, `<T>`, YAML's `|`, `*`, `!`.
        || core.starts_with(['$', '{', '<', '[', '(', '*', '!', '|', '>', '&', '?', '#', ':'])
        // A call, a macro (`Token![=]`), a macro fragment (`$token:tt)*`).
        || core.contains(['(', ')'])
        || core.contains("![")
        || NOT_A_VALUE.contains(&bare.to_ascii_lowercase().as_str())
        // `Option<String>`, `Optional[str]`, `Vec<u8>`: a type.
        || (bare.starts_with(|c: char| c.is_ascii_alphabetic())
            && bare.contains(['<', '['])
            && bare.split(['<', '[']).next().is_some_and(is_path_of_names))
        // `"progressToken": 5`, `SAE_PASSWORD = 277,`: a counter or a constant's number.
        || (is_number(core) && (key.ends_with("token") || (spaced && cx.punctuated)))
        || (cx.declared && (is_path_of_names(core) || is_number(core)))
        || (spaced
            && is_path_of_names(core)
            && (cx.punctuated || core.contains('.') || core.contains("::")))
}

fn masked(kind: &str) -> String {
    format!("[masked:{kind}]")
}

/// The replacement for one `key = value` match: everything kept but the value, which is masked
/// (inside its quotes) when it is a literal secret.
fn assigned<'h>(caps: &Captures<'h>) -> Cow<'h, str> {
    let (Some(all), Some(key), Some(sep), Some(val)) = (
        caps.get(0),
        caps.name("key"),
        caps.name("sep"),
        caps.name("val"),
    ) else {
        return Cow::Borrowed("");
    };
    let whole = all.as_str();
    let head = &whole[..val.start() - all.start()];
    let end = caps.name("end").map_or("", |m| m.as_str());
    let v = val.as_str();
    // `ServerTrafficSecret => b"s ap traffic"`: an enum variant in a match arm, not a secret.
    let bare_key = key.as_str().trim_start_matches(':');
    if sep.as_str().trim() == "=>"
        && bare_key.starts_with(|c: char| c.is_ascii_uppercase())
        && bare_key.contains(|c: char| c.is_ascii_lowercase())
    {
        return Cow::Borrowed(whole);
    }
    let label = masked("assigned-secret");
    // A string literal, maybe with a prefix (`b"…"`, `r"…"`, `f"…"`).
    let prefix = v
        .bytes()
        .take(2)
        .take_while(|b| b"bBrRfFuU".contains(b))
        .count();
    let (pre, quoted) = v.split_at(prefix);
    for q in ["\\\"", "\"", "'"] {
        if let Some(inner) = quoted.strip_prefix(q).and_then(|r| r.strip_suffix(q))
            && quoted.len() >= 2 * q.len()
        {
            return if inner.is_empty() || is_reference(inner) {
                Cow::Borrowed(whole)
            } else {
                Cow::Owned(format!("{head}{pre}{q}{label}{q}{end}"))
            };
        }
    }
    let core = v.trim_end_matches([')', ']', '}']);
    let rest = &v[core.len()..];
    let cx = Context {
        key: key.as_str(),
        sep: sep.as_str(),
        declared: caps.name("decl").is_some() || caps.name("ty").is_some(),
        punctuated: !rest.is_empty() || !end.is_empty(),
    };
    if is_code(&cx, core) {
        Cow::Borrowed(whole)
    } else {
        Cow::Owned(format!("{head}{label}{rest}{end}"))
    }
}

/// Replaces the matches of `re` in `text` by `f`'s answer; `None` when every answer kept its
/// match (or there was none), so kept code costs no copy.
fn replace_changed<'h>(
    re: &Regex,
    text: &'h str,
    f: impl Fn(&Captures<'h>) -> Cow<'h, str>,
) -> Option<String> {
    let mut out: Option<String> = None;
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        let rep = f(&caps);
        if rep == m.as_str() {
            continue;
        }
        let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
        buf.push_str(&text[last..m.start()]);
        buf.push_str(&rep);
        last = m.end();
    }
    out.map(|mut buf| {
        buf.push_str(&text[last..]);
        buf
    })
}

/// The `name = value` pattern, run only on the lines where [`ANCHOR`] finds a name.
fn replace_assigned(p: &Pattern, text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    // Where the next anchor may start (past the line just judged), and how far `out` holds
    // the text.
    let (mut judged, mut copied) = (0, 0);
    for m in ANCHOR.find_iter(text) {
        if m.start() < judged {
            continue;
        }
        let start = text[..m.start()].rfind('\n').map_or(0, |i| i + 1);
        let end = text[m.end()..]
            .find('\n')
            .map_or(text.len(), |i| m.end() + i);
        // Compiled at the first anchored line: a name alone (`secrets.yaml`) costs no compile.
        if let Some(line) = replace_changed(p.regex(), &text[start..end], assigned) {
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied..start]);
            buf.push_str(&line);
            copied = end;
        }
        judged = end;
    }
    out.map(|mut buf| {
        buf.push_str(&text[copied..]);
        buf
    })
}

/// `text` with every secret replaced by `[masked:<kind>]`. Borrowed (no copy) when there is
/// nothing to mask.
#[must_use]
pub fn mask(text: &str) -> Cow<'_, str> {
    let Some(woken) = WAKE.scan(text) else {
        return Cow::Borrowed(text);
    };
    let (ours, rules) = woken.split_at(PATTERNS.len());
    let mut out = Cow::Borrowed(text);
    for (p, _) in PATTERNS.iter().zip(ours).filter(|(_, w)| **w) {
        let replaced = match p.replace {
            Replace::Whole => match p.regex().replace_all(&out, p.label.as_str()) {
                Cow::Owned(s) => Some(s),
                Cow::Borrowed(_) => None,
            },
            Replace::UrlPassword => {
                replace_changed(p.regex(), &out, |c| match (c.get(0), c.get(1), c.get(2)) {
                    (Some(_), Some(user), Some(pw)) if !pw.as_str().starts_with("[masked:") => {
                        Cow::Owned(format!("{}{}@", user.as_str(), p.label))
                    }
                    (whole, ..) => Cow::Borrowed(whole.map_or("", |m| m.as_str())),
                })
            }
            Replace::Credentials => replace_changed(p.regex(), &out, |c| match c.get(0) {
                Some(whole) if c.name("param").is_some() => Cow::Borrowed(whole.as_str()),
                _ => Cow::Owned(p.label.clone()),
            }),
            Replace::Assigned => replace_assigned(p, &out),
        };
        if let Some(s) = replaced {
            out = Cow::Owned(s);
        }
    }
    // The rules run on what the patterns left: a secret masked here is not found twice. The
    // keywords were looked for in `text`; masking only removes text (a label holds no rule's
    // keyword that could wake a rule to match it), so the rules that may match are among them.
    if let Some(s) = secret_rules::mask(&out, rules) {
        out = Cow::Owned(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realistic_keys_are_masked() {
        let cases = [
            (
                "export OPENAI_API_KEY=sk-proj-abcDEF1234567890abcdef1234567890",
                "openai-key",
            ),
            (
                "key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345",
                "anthropic-key",
            ),
            ("AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "google-key"),
            (
                "token ghp_0123456789abcdefghijABCDEFGHIJ012345",
                "github-token",
            ),
            ("AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
            (
                "Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345",
                "bearer-token",
            ),
            ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "basic-auth"),
            ("Bearer abcdefghijklmnopqrstuvwxyz0123==", "bearer-token"),
            ("password = hunter2hunter2", "assigned-secret"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
                "private-key",
            ),
            (
                "SLACK_APP_TOKEN xapp-1-A0123456789-1234567890123-abcdef0123456789",
                "slack-token",
            ),
        ];
        for (text, kind) in cases {
            let m = mask(text);
            assert!(m.contains(&format!("[masked:{kind}]")), "{text} → {m}");
        }
        assert!(!mask("sk-proj-abcDEF1234567890abcdef1234567890").contains("abcDEF"));
    }

    /// The formats an audit found passing (issue 21), as they appear in code and notes, with
    /// random values of each format's shape: (text, the secret, the label it gets).
    const AUDITED: [(&str, &str, &str); 17] = [
        (
            "| npm | npm_k00s4n46l67paax1ejooc102cv85hxbjfhb3 |",
            "npm_k00s4n46l67paax1ejooc102cv85hxbjfhb3",
            "npm-access-token",
        ),
        (
            "twine upload -p pypi-AgEIcHlwaS5vcmcuRZ-txe8EjzAjp8XzRs0LU5XO-XIdlu_a-iCOoxvSQSNFnviw2VueE0ubS-WFFui409hKg dist/*",
            "pypi-AgEIcHlwaS5vcmcuRZ-txe8EjzAjp8XzRs0LU5XO-XIdlu_a-iCOoxvSQSNFnviw2VueE0ubS-WFFui409hKg",
            "pypi-upload-token",
        ),
        (
            r#"sg.set_api("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")"#,
            "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",
            "sendgrid-api-token",
        ),
        (
            "?access=ya29.a0X7iYwDGOfFXtNL_mhPNLyiPzTiO1njj5c48XZjCdg3fFJZ26EZXP_Dke9w_VB5HF9",
            "ya29.a0X7iYwDGOfFXtNL_mhPNLyiPzTiO1njj5c48XZjCdg3fFJZ26EZXP_Dke9w_VB5HF9",
            "google-oauth-access-token",
        ),
        (
            "doctl auth init -t dop_v1_e704396eb0b54d196dc77e022d641fffa484b99022536b8b151f8c5137b8d66d",
            "dop_v1_e704396eb0b54d196dc77e022d641fffa484b99022536b8b151f8c5137b8d66d",
            "digitalocean-pat",
        ),
        (
            r#"Session(shop, "2024-01", "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")"#,
            "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",
            "shopify-access-token",
        ),
        (
            "databricks configure --pat dapi679eb27c5bb40d0636b9357def6685dc",
            "dapi679eb27c5bb40d0636b9357def6685dc",
            "databricks-api-token",
        ),
        (
            "notify: https://hooks.slack.com/services/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",
            "https://hooks.slack.com/services/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",
            "slack-webhook-url",
        ),
        (
            "https://discord.com/api/webhooks/2757569791415471395/jNFqsHnLBAr--BeQVbysKhH0hpcD4_V3cUsSZ46C4Dc6ClS_tvbIPQMBg6xztbutCovo",
            "jNFqsHnLBAr--BeQVbysKhH0hpcD4_V3cUsSZ46C4Dc6ClS_tvbIPQMBg6xztbutCovo",
            "discord-webhook-url",
        ),
        (
            "https://api.telegram.org/bot6113380133:AAmFA3bZMOT1e-fZ9xekG8HuLRV_HXLgoKl/getMe",
            "6113380133:AAmFA3bZMOT1e-fZ9xekG8HuLRV_HXLgoKl",
            "telegram-bot-token",
        ),
        (
            "AccountName=acme;AccountKey=+PrtNNXoI4DgV2n8BUzf/MQ3xc2zueBBvRbD5FTWyJxV9sQVsKkhFMPWvYdIIBDpdAWy/Bv3WLqXgralv6o8gj==;EndpointSuffix=core.windows.net",
            "+PrtNNXoI4DgV2n8BUzf/MQ3xc2zueBBvRbD5FTWyJxV9sQVsKkhFMPWvYdIIBDpdAWy/Bv3WLqXgralv6o8gj==",
            "azure-storage-key",
        ),
        (
            r#"auth=("api", "key-a359e9dc38b0d8ea8b4bb652850a15b6")"#,
            "key-a359e9dc38b0d8ea8b4bb652850a15b6",
            "mailgun-api-key",
        ),
        (
            r#"Client("SK0105a74a56359d8a6cc9179a79d62ee5", api_secret)"#,
            "SK0105a74a56359d8a6cc9179a79d62ee5",
            "twilio-api-key",
        ),
        (
            r#"fetch(url, { headers: { Authorization: "lin_api_lUNCd4y6Ff5TJF567k0J6hNZaUXbtHjUOaO4e389" } })"#,
            "lin_api_lUNCd4y6Ff5TJF567k0J6hNZaUXbtHjUOaO4e389",
            "linear-api-key",
        ),
        (
            "AGE-SECRET-KEY-1U96HEULSTNWNYF265SKE8HR9V0A47J073V5576WSDT2XTS7M30S98JYD2Q",
            "AGE-SECRET-KEY-1U96HEULSTNWNYF265SKE8HR9V0A47J073V5576WSDT2XTS7M30S98JYD2Q",
            "age-secret-key",
        ),
        ("password is Xq7hunter2", "Xq7hunter2", "prose-secret"),
        ("the password is hunter2", "hunter2", "prose-secret"),
    ];

    #[test]
    fn audited_formats_are_masked_and_only_the_secret_changes() {
        for (text, secret, kind) in AUDITED {
            let m = mask(text);
            assert_eq!(
                m,
                text.replacen(secret, &format!("[masked:{kind}]"), 1),
                "{text}"
            );
            assert!(matches!(mask(&m), Cow::Borrowed(_)), "masking twice: {m}");
        }
    }

    /// (text, the secret that must be gone, what must remain).
    const ASSIGNED: [(&str, &str, &str); 21] = [
        (
            "DB_PASSWORD=s3cr3t-db",
            "s3cr3t-db",
            "DB_PASSWORD=[masked:assigned-secret]",
        ),
        (
            "  POSTGRES_PASSWORD: example-pg",
            "example-pg",
            "POSTGRES_PASSWORD: [masked:",
        ),
        (
            r#"{"password": "hunter2 x"}"#,
            "hunter2",
            r#"{"password": "[masked:assigned-secret]"}"#,
        ),
        (
            r#"{"db_password":"pw1"}"#,
            "pw1",
            r#""db_password":"[masked:"#,
        ),
        (
            "DJANGO_SECRET_KEY=django-insecure-abc123",
            "django-insecure",
            "DJANGO_SECRET_KEY=[masked:",
        ),
        ("password=abc", "abc", "password=[masked:assigned-secret]"),
        (
            r#"password = "a b c""#,
            "a b c",
            r#"password = "[masked:assigned-secret]""#,
        ),
        ("password: 'it is me'", "it is me", "password: '[masked:"),
        ("API_TOKEN=abcd1234", "abcd1234", "API_TOKEN=[masked:"),
        (
            "mysql --password=pa55 db",
            "pa55",
            "--password=[masked:assigned-secret] db",
        ),
        (
            "Server=db;User Id=sa;Password=Pa55word;",
            "Pa55word",
            "Password=[masked:",
        ),
        ("dbPassword = \"camel\"", "camel", "dbPassword = \"[masked:"),
        (
            "let password = \"hard-coded\";",
            "hard-coded",
            "let password = \"[masked:assigned-secret]\";",
        ),
        (
            r#"{\"password\": \"inner\"}"#,
            "inner",
            r#"\"password\": \"[masked:"#,
        ),
        (
            "'password' => 'php-pw',",
            "php-pw",
            "'password' => '[masked:",
        ),
        ("MYSQL_PWD=short", "short", "MYSQL_PWD=[masked:"),
        (
            r#"let secret = b"raw bytes";"#,
            "raw bytes",
            r#"let secret = b"[masked:assigned-secret]";"#,
        ),
        (
            r#"const API_KEY: &str = "typed";"#,
            "typed",
            r#"const API_KEY: &str = "[masked:assigned-secret]";"#,
        ),
        (
            r#"api_key: str = "py-typed""#,
            "py-typed",
            r#"api_key: str = "[masked:"#,
        ),
        ("password: 1234", "1234", "password: [masked:"),
        (
            r#"{"access_token":"a.b.c","token_type":"Bearer"}"#,
            "a.b.c",
            r#""token_type":"Bearer"}"#,
        ),
    ];

    #[test]
    fn assigned_secrets_are_masked_and_keep_their_name() {
        for (text, secret, kept) in ASSIGNED {
            let m = mask(text);
            assert!(!m.contains(secret), "{text} → {m}");
            assert!(m.contains(kept), "{text} → {m}");
        }
    }

    #[test]
    fn urls_keys_blocks_and_partial_blocks() {
        for (text, secret, kept) in [
            (
                "postgres://user:pw@host:5432/db",
                ":pw@",
                "postgres://user:[masked:url-password]@host:5432/db",
            ),
            (
                "see https://u:p@example.com/x",
                ":p@",
                "https://u:[masked:url-password]@example.com/x",
            ),
            (
                "redis://:p%40ss@cache",
                "p%40ss",
                "redis://:[masked:url-password]@cache",
            ),
        ] {
            let m = mask(text);
            assert!(!m.contains(secret) && m.contains(kept), "{text} → {m}");
        }
        let pgp = "before\n-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBF0\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\nafter";
        assert_eq!(mask(pgp), "before\n[masked:private-key]\nafter");
        // No END line: the block runs to the last line that looks like key material.
        let cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACB\nfn main() {}\n";
        assert_eq!(mask(cut), "[masked:private-key]\nfn main() {}\n");
        // …also with a packed excerpt's line numbers, and to the end of the text.
        let packed =
            "    1 | -----BEGIN EC PRIVATE KEY-----\n    2 | MHcCAQEEIB\n    3 | AwEHoUQDQg";
        assert_eq!(mask(packed), "    1 | [masked:private-key]");
        let one_line = r#"k = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc";"#;
        assert!(!mask(one_line).contains("MIIE"));
        // A cut block is not joined to a later key's END line across ordinary text.
        let two = "-----BEGIN RSA PRIVATE KEY-----\nMIIEcut\nfn keep() {}\n-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\nafter";
        assert_eq!(
            mask(two),
            "[masked:private-key]\nfn keep() {}\n[masked:private-key]\nafter"
        );
    }

    #[test]
    fn ordinary_text_and_code_are_left_alone() {
        for text in [
            "the task-list is ready",
            "password reset flow",
            "the password reset flow",
            "set a secret",
            "skip-git-repo-check",
            "AKIA is a prefix",
            "    password: String,",
            "    pub password: Option<String>,",
            "    let password = read_password();",
            "let token = tokens[i];",
            "    token: Token,",
            "password: str",
            "api_key: Optional[str] = None",
            "password = args.password;",
            "  password: req.body.password,",
            "password: ${DB_PASSWORD}",
            r#"password: "${DB_PASSWORD}""#,
            "if password == expected {",
            r#""password": null"#,
            r#""password": {"type": "string"}"#,
            "password:",
            "password = \"\"",
            "password_reset: true",
            "input tokens: 523",
            "password: <your password>",
            r#"format!("{private_key:?}"),"#,
            "/// See `EcdsaPrivateKey::as_der`.",
            "pub const NID_userPassword: i32 = 879;",
            "let bob_secret = priv_key_from_bytes",
            "pub trait SigningKey: Debug + Send + Sync {",
            "    IFLA_INET6_TOKEN = 7,",
            "    ExtendedMasterSecret => 0x0017,",
            r#"    ClientTrafficSecret => b"c ap traffic","#,
            r#"json!({"progressToken": 1, "progress": 0}),"#,
            r#"WWW-Authenticate: Bearer resource_metadata="https://mcp.example.com/prm""#,
            "    pub eq_token: Token![=],",
            "($($token:tt)*) => {};",
            "pub const SYS_memfd_secret: c_long = 4000 + 447;",
            "pub fn with_secret(mut self, secret: impl Into<String>) -> Self {",
            "DB_PASSWORD=[masked:assigned-secret]",
            "https://example.com:8443/path?q=1",
            "git@github.com:org/repo.git",
            "ssh://git@host:22/repo",
            "sort by — the “secret” sauce…",
            "Bearer of bad news",
            "see http://example.com/ for the key: it is on the page",
        ] {
            assert!(
                matches!(mask(text), Cow::Borrowed(_)),
                "{text} → {}",
                mask(text)
            );
        }
    }

    #[test]
    fn only_the_secret_changes_in_a_longer_text() {
        let text = "fn f() {\n    let token = next_token();\n}\nDB_PASSWORD=abc\nx = 1\ntoken: Token,\napi_key = \"k\"\nend\n";
        assert_eq!(
            mask(text),
            "fn f() {\n    let token = next_token();\n}\nDB_PASSWORD=[masked:assigned-secret]\nx = 1\ntoken: Token,\napi_key = \"[masked:assigned-secret]\"\nend\n"
        );
    }

    #[test]
    fn masking_is_idempotent() {
        for (text, _, _) in ASSIGNED {
            let once = mask(text).into_owned();
            assert!(matches!(mask(&once), Cow::Borrowed(_)), "{once}");
        }
        let url = mask("postgres://u:pw@h").into_owned();
        assert!(matches!(mask(&url), Cow::Borrowed(_)), "{url}");
    }
}
