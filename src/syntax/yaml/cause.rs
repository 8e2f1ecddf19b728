//! A cause of a YAML syntax error → the help line that names it. The words live here, apart
//! from reading the text (`help.rs`), so each cause is said one way.

use std::fmt;

/// What most likely caused a YAML syntax error. Lines are 1-based, `spaces` and columns count
/// from the start of the line (columns shown 1-based, as editors do).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cause {
    /// A tab where YAML wants spaces.
    Tab { line: usize },
    /// A key indented between the keys of a block above and the key that holds them.
    Between {
        key: String,
        line: usize,
        spaces: usize,
        /// Where the keys of the block above start.
        keys_at: usize,
        owner: Owner,
        /// The key holding the block, when the line could stand beside it.
        outer: Option<(String, usize)>,
    },
    /// A key indented deeper than the key above, which has its value on its own line: YAML
    /// reads the line as more of that value.
    Deeper {
        key: String,
        line: usize,
        spaces: usize,
        above: String,
        above_line: usize,
        above_spaces: usize,
    },
    /// A list item among the keys of a mapping.
    ItemAmongKeys {
        line: usize,
        item: String,
        owner: Owner,
    },
    /// A line with no `: ` after its key, read as text running on into the next line.
    NoColon { line: usize, fixed: String },
    /// `: ` inside a plain value.
    ColonInValue {
        key: String,
        line: usize,
        fixed: String,
    },
    /// A value that starts with a quote and goes on after the closing one.
    AfterQuote { line: usize, fixed: String },
    /// A quote that does not close on its line (YAML allows more lines only indented deeper
    /// than the key, which is rarely what was meant).
    Unclosed {
        quote: char,
        line: usize,
        column: usize,
    },
    /// A `\` escape that double quotes do not know.
    Escape { line: usize },
    /// A `[` or `{` that is never closed.
    Bracket {
        open: char,
        line: usize,
        column: usize,
        /// The bracket's line has a ` #`, which starts a comment and may hide the close.
        comment: bool,
    },
    /// Inside `[...]` or `{...}`, a value holding a character that ends it.
    InFlow { line: usize },
    /// A value starting with a character YAML reserves.
    Reserved {
        ch: char,
        line: usize,
        fixed: String,
    },
}

/// What holds a block of keys.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Owner {
    Key(String),
    /// A list item (`- key: ...`) starting on this line.
    Item(usize),
    /// The top of the file.
    Top,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Key(k) => write!(f, "`{k}`"),
            Owner::Item(line) => write!(f, "the list item on line {line}"),
            Owner::Top => f.write_str("the file"),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Tab { line } => write!(
                f,
                "line {line} is indented with a tab: YAML indents with spaces only, so replace the tab with spaces"
            ),
            Cause::Between {
                key,
                line,
                spaces,
                keys_at,
                owner,
                outer,
            } => {
                write!(
                    f,
                    "`{key}:` on line {line} is indented {spaces} spaces, but the keys of {owner} above start at column {}: indent it {keys_at} spaces to keep it in {owner}",
                    keys_at + 1
                )?;
                match outer {
                    Some((outer, at)) => write!(f, ", or {at} to put it beside `{outer}`"),
                    None => Ok(()),
                }
            }
            Cause::Deeper {
                key,
                line,
                spaces,
                above,
                above_line,
                above_spaces,
            } => write!(
                f,
                "`{key}:` on line {line} is indented {spaces} spaces, deeper than `{above}:` on line {above_line} ({above_spaces} spaces), so YAML reads it as more of the value of `{above}`: indent it {above_spaces} spaces, like `{above}`"
            ),
            Cause::ItemAmongKeys { line, item, owner } => write!(
                f,
                "line {line} is a list item (`{item}`) among the keys of {owner}: a mapping holds `key: value` lines only, so give the item a key, or move it under a key whose value is a list"
            ),
            Cause::NoColon { line, fixed } => write!(
                f,
                "line {line} has no `: ` after its key, so YAML reads it as text that runs on into the next line: write `{fixed}`"
            ),
            Cause::ColonInValue { key, line, fixed } => write!(
                f,
                "the value of `{key}` on line {line} holds `: `, which YAML reads as the start of another key: put the value in quotes, `{fixed}`"
            ),
            Cause::AfterQuote { line, fixed } => write!(
                f,
                "the value on line {line} starts with a quote, so YAML takes the quoted part as the whole value and refuses what follows it: write `{fixed}`"
            ),
            Cause::Unclosed {
                quote,
                line,
                column,
            } => {
                write!(
                    f,
                    "the `{quote}` at line {line}, column {column} opens a quoted value that does not end on its line: end it with `{quote}` on the same line"
                )?;
                if *quote == '\'' {
                    f.write_str(" (a `'` inside single quotes is written `''`)")?;
                }
                Ok(())
            }
            Cause::Escape { line } => write!(
                f,
                "inside double quotes on line {line}, `\\` starts an escape such as `\\n`: write a plain backslash as `\\\\`, or use single quotes"
            ),
            Cause::Bracket {
                open,
                line,
                column,
                comment,
            } => {
                let close = if *open == '[' { ']' } else { '}' };
                write!(
                    f,
                    "the `{open}` at line {line}, column {column} is never closed: end it with `{close}`"
                )?;
                if *comment {
                    write!(
                        f,
                        "; the ` #` on line {line} starts a comment, which hides the rest of the line: put a value that holds `#` in quotes"
                    )?;
                }
                Ok(())
            }
            Cause::InFlow { line } => write!(
                f,
                "inside `[...]` or `{{...}}` on line {line}, a value that holds `: `, `,`, `[`, `]`, `{{`, `}}` or ` #` must be in quotes: quote it, or write the entries as indented `key: value` lines"
            ),
            Cause::Reserved { ch, line, fixed } => {
                let why = match ch {
                    '*' => "YAML reads a value that starts with `*` as a reference to an anchor"
                        .to_string(),
                    '&' => "YAML reads a value that starts with `&` as an anchor".to_string(),
                    c => format!("a plain YAML value cannot start with `{c}`"),
                };
                write!(f, "{why} (line {line}): put the value in quotes, `{fixed}`")
            }
        }
    }
}

/// A key or value quoted from the file, cut to a length that fits in a help line.
pub(super) fn cut(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `value` in the quotes that need no escapes: double, unless it holds `"` or `\`.
fn quoted(value: &str) -> String {
    if value.contains(['"', '\\']) {
        format!("'{}'", value.replace('\'', "''"))
    } else {
        format!("\"{value}\"")
    }
}

/// `key: "value"`, or the quoted value alone for a list item.
pub(super) fn with_key(key: Option<&str>, value: &str) -> String {
    match key {
        Some(k) => cut(&format!("{k}: {}", quoted(value))),
        None => cut(&quoted(value)),
    }
}
