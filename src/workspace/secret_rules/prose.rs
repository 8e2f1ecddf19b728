//! A secret stated in English prose: "the password is hunter2", "the API key for staging was
//! `k3y-7781`". A rule of maestro's own (no rule set has one), written in code because whether
//! the word after "is" is a secret or English is a judgement a regex cannot make.
//!
//! The choice: a quoted value is masked (quotes say "this exact string"); an unquoted one is
//! masked when it looks like a secret, not a word: a number of four or more digits, or letters
//! with digits or symbols (`hunter2`, `p@ss!word`, `Tr0ub4dor&3`). Plain words are kept, also
//! capitalised or camelCase ones and identifiers (`stored`, `Required`, `readPassword`,
//! `DB_PASSWORD`, `args.password`), so "the password is stored in the keychain" and Python's
//! `if password is None:` stay as written. The price: a secret that is a plain word
//! ("the password is swordfish") is kept unless quoted; telling it from English would need a
//! dictionary. Technical words with digits (`base64`, `SHA-256`, `UTF-8`) are known words too.
//! `password: X` and `password = X` are `assigned-secret`'s, which judges code.

use super::RuleData;
use crate::workspace::mask::is_reference;

/// The names of a secret, lower case, words apart (written `api key`, `api_key`, `api-key`,
/// `apikey`). Bare `token` and `key` are not among them: "the token is consumed" and "the key
/// is the file name" are how code is described.
const NAMES: [&str; 10] = [
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret key",
    "secret",
    "api key",
    "access key",
    "access token",
    "auth token",
];

/// Each name as it is written: lower, Capitalized and UPPER case (`API key` too), the words
/// apart, joined or tied by `_`/`-`. Literal spellings rather than `(?i)`, so the regex engine
/// finds them with a literal search (mixed case, `PassWord`, is not a name here, as in
/// `assigned-secret`).
fn spellings() -> Vec<String> {
    let mut out = Vec::new();
    for name in NAMES {
        let words: Vec<&str> = name.split(' ').collect();
        let cap = |w: &str| format!("{}{}", w[..1].to_ascii_uppercase(), &w[1..]);
        let mut cases = vec![
            words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>(),
            words.iter().map(|w| cap(w)).collect(),
            words.iter().map(|w| w.to_ascii_uppercase()).collect(),
        ];
        if words[0] == "api" {
            let rest = &words[1..];
            cases.push(
                std::iter::once("API".to_owned())
                    .chain(rest.iter().map(|w| (*w).to_owned()))
                    .collect(),
            );
            cases.push(
                std::iter::once("API".to_owned())
                    .chain(rest.iter().map(|w| cap(w)))
                    .collect(),
            );
        }
        for c in cases {
            for sep in [" ", "_", "-", ""] {
                let s = c.join(sep);
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

/// A secret's name, an optional "for the staging db", "is"/"was" (and "now", "set to"…), an
/// optional colon, then the value: quoted, or one run of non-space characters. One line only.
fn pattern() -> String {
    let names: Vec<String> = spellings().iter().map(|s| regex::escape(s)).collect();
    format!(
        r#"(?-u:\b)(?:{})(?-u:\b)(?:[ \t]+(?i:for|of|to|on|in)(?:[ \t]+[^\s]+){{1,3}}?)?[ \t]+(?i:is|was)(?:[ \t]+(?i:now|still|just|set[ \t]+to|changed[ \t]+to))?[ \t]*:?[ \t]+("[^"\n]+"|'[^'\n]+'|`[^`\n]+`|[^\s]+)"#,
        names.join("|")
    )
}

/// Words with digits that name a technique, not a secret (`the password is base64-encoded`).
const TECHNICAL: [&str; 16] = [
    "base32", "base64", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "utf8", "utf16",
    "x509", "pbkdf2", "argon2", "argon2id", "rot13", "2fa",
];

/// The rule wakes on its verb, not on the names: `secret` and `password` are in many a file
/// name and identifier, " is " and " was " in few, and the regex compiles and runs only when one
/// is present (a path like `config/secrets.yaml` costs nothing here).
const VERBS: [&str; 4] = [" is", "\tis", " was", "\twas"];

pub(super) fn rule() -> RuleData {
    RuleData {
        id: "prose-secret".into(),
        regex: pattern(),
        keywords: VERBS.map(String::from).to_vec(),
        secret_group: Some(1),
        entropy: None,
        allow: Vec::new(),
    }
}

/// The part of the value after "is" to mask (quotes and a sentence's end kept), or `None` when
/// the value is English or code.
pub(super) fn judge(value: &str) -> Option<(usize, usize)> {
    if value.starts_with("[masked:") {
        return None;
    }
    for q in ['"', '\'', '`'] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            let code = inner.contains("::") || inner.contains('(');
            return (inner.len() >= 4 && !is_reference(inner) && !code)
                .then_some((1, 1 + inner.len()));
        }
    }
    // What closes the sentence or the code around it (`"the password is hunter2",`,
    // `` `if password is None:` ``) is not part of the value.
    let core = value.trim_end_matches([
        '.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\'', '`', '*',
    ]);
    let lead = core.len() - core.trim_start_matches(['(', '[', '*']).len();
    looks_like_secret(&core[lead..]).then_some((lead, core.len()))
}

fn looks_like_secret(v: &str) -> bool {
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    let letters = v.bytes().filter(u8::is_ascii_alphabetic).count();
    let symbols = v
        .bytes()
        .filter(|b| !b.is_ascii_alphanumeric() && !b"-'_.".contains(b))
        .count();
    let first = v.split(['-', '_']).next().unwrap_or(v).to_ascii_lowercase();
    let code = v.contains("::") || v.contains('(') || v.contains("->");
    v.len() >= 4
        && !is_reference(v)
        // `<your password>`, `{{ x }}`, `$VAR`, `%s`: a placeholder's first word.
        && !v.starts_with(['<', '{', '$', '%', '['])
        && !code
        && !TECHNICAL.contains(&first.as_str())
        && !is_standard_name(v)
        && ((digits == v.len() && digits >= 4) || (letters > 0 && (digits > 0 || symbols > 0)))
}

/// `SHA-256`, `AES-128`, `UTF-8`, `RFC-7519`: a name, a hyphen and a number.
fn is_standard_name(v: &str) -> bool {
    v.split_once('-').is_some_and(|(name, number)| {
        (2..=6).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_alphabetic())
            && (1..=4).contains(&number.len())
            && number.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use crate::workspace::mask::mask;

    #[test]
    fn a_stated_secret_is_masked_and_the_sentence_kept() {
        for (text, want) in [
            (
                "the password is hunter2",
                "the password is [masked:prose-secret]",
            ),
            (
                "The password is: Tr0ub4dor&3.",
                "The password is: [masked:prose-secret].",
            ),
            (
                "password was 12345678, then changed",
                "password was [masked:prose-secret], then changed",
            ),
            (
                "the password for the staging db is pg-Pass-9931",
                "the password for the staging db is [masked:prose-secret]",
            ),
            (
                "Our API key is now ak_7f3b99c1e2",
                "Our API key is now [masked:prose-secret]",
            ),
            (
                "PASSWORD WAS Zx81-qq, API_KEY is 99a1b2c3",
                "PASSWORD WAS [masked:prose-secret], API_KEY is [masked:prose-secret]",
            ),
            (
                "the passphrase is 'correct horse battery staple'",
                "the passphrase is '[masked:prose-secret]'",
            ),
            (
                "the password is `swordfish`",
                "the password is `[masked:prose-secret]`",
            ),
            ("secret was p@ss!word", "secret was [masked:prose-secret]"),
            (
                r#"say("the password is hunter2");"#,
                r#"say("the password is [masked:prose-secret]");"#,
            ),
            (
                "(the password is **Zq9-rt!x**)",
                "(the password is **[masked:prose-secret]**)",
            ),
        ] {
            assert_eq!(mask(text), want, "{text}");
        }
    }

    #[test]
    fn sentences_about_passwords_and_code_are_kept() {
        for text in [
            "the password is stored in the keychain",
            "The password is Required",
            "the password is too short",
            "the password is 8 characters or more",
            "the password is 16-64 characters long",
            "the password is base64-encoded",
            "the password is hashed with SHA-256",
            "the secret is SHA-256 of the body",
            "if password is None:",
            "`if password is None:`",
            r#"log("the password is Required");"#,
            "assert secret is not None",
            "the secret is readSecret",
            "the password is DB_PASSWORD",
            "the password is args.password",
            "the password is $DB_PASSWORD",
            "the password is ${DB_PASSWORD}",
            "the password is <your password>",
            "the password is Secret::new(raw)",
            "the secret is out",
            "the password was changed in 2023",
            "the api is stable",
            "the token is consumed",
            "the PassWord is x9-unusual-casing",
        ] {
            assert_eq!(mask(text), text);
        }
    }
}
