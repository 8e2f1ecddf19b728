//! A YAML syntax error (the parser's words and the byte where it stopped) → a help line that
//! names the cause in the text: the column the keys above start at, the quote or bracket left
//! open, the value that needs quotes, the tab.
//!
//! The parser says what it expected; a person needs to know what they wrote. A diagnosis reads
//! the error's line, the lines above it and, for brackets, the text before it: linear in the
//! file, once per file (a syntax error ends the read). `None` when no cause is recognised: the
//! parser's words then stand alone.

use super::cause::{Cause, Owner, cut, with_key};
use super::lines::{Line, Lines, colon, open_bracket};
use crate::source::SourceFile;

/// The help for a syntax error the parser reported as `info` at byte `at`.
#[must_use]
pub(super) fn syntax(source: &SourceFile, info: &str, at: usize) -> Option<String> {
    diagnose(source, info, at).map(|cause| cause.to_string())
}

fn diagnose(source: &SourceFile, info: &str, at: usize) -> Option<Cause> {
    let lines = Lines::new(&source.text);
    let (n, column) = source.line_col(at);
    let here = lines.get(n)?;
    // The parser stops at a character of YAML's own syntax, all ASCII: the byte is enough.
    let byte = source.text.as_bytes().get(at).copied();
    let in_line = at.saturating_sub(source.line_start(n));
    if info.contains("tab") {
        return Some(Cause::Tab {
            line: lines.tab_near(n),
        });
    }
    if info.contains("escape") || info.contains("hexadecimal") {
        return Some(Cause::Escape { line: n });
    }
    if info.starts_with("invalid trailing content") {
        return after_quote(here);
    }
    if info.contains("quoted scalar") {
        let quote = match byte {
            Some(b'"') => '"',
            Some(b'\'') => '\'',
            _ => return None,
        };
        return Some(Cause::Unclosed {
            quote,
            line: n,
            column,
        });
    }
    if info.contains("flow") || info.contains("':' indicator") || info.contains("bracket") {
        return flow(source, n, at);
    }
    if info.starts_with("unexpected character")
        || info.contains("anchor")
        || info.contains("alias")
        || info.starts_with("plain scalar cannot start")
    {
        return reserved(here, char::from(byte?));
    }
    if info.starts_with("mapping values are not allowed") {
        return stray_colon(&lines, here, in_line);
    }
    if info.contains("did not find expected key")
        || info.contains("block sequence entries")
        || info.contains("expected '-' indicator")
        || info.contains("mapping keys are not allowed")
        || info == "invalid indentation"
    {
        return block(&lines, here);
    }
    None
}

/// "mapping values are not allowed": a `: ` inside a value, or a line YAML read as the
/// continuation of the one above.
fn stray_colon(lines: &Lines<'_>, here: Line<'_>, in_line: usize) -> Option<Cause> {
    let own = here.content + colon(here.rest())?;
    if in_line > own {
        return Some(Cause::ColonInValue {
            key: cut(here.key()?),
            line: here.n,
            fixed: with_key(here.key(), here.value()?),
        });
    }
    let above = lines.above(here.n).next()?;
    match above.key() {
        None if above.content == here.content && !above.item() => {
            let text = above.rest().trim_end();
            // `role:helper` needs a space; `role helper` a colon.
            let fixed = match text.split_once(':') {
                Some((k, v)) if !k.contains(' ') => format!("{k}: {v}"),
                _ => match text.split_once(' ') {
                    Some((k, v)) => format!("{k}: {}", v.trim_start()),
                    None => return None,
                },
            };
            Some(Cause::NoColon {
                line: above.n,
                fixed: cut(&fixed),
            })
        }
        Some(above_key)
            if here.content > above.content && above.value().is_some_and(|v| !v.is_empty()) =>
        {
            Some(Cause::Deeper {
                key: cut(here.key()?),
                line: here.n,
                spaces: here.content,
                above: cut(above_key),
                above_line: above.n,
                above_spaces: above.content,
            })
        }
        _ => None,
    }
}

/// "did not find expected key" and its kin: a line whose indentation fits no block above, or a
/// list item among keys.
fn block(lines: &Lines<'_>, here: Line<'_>) -> Option<Cause> {
    if here.item() {
        // The keys this item sits among: the nearest line above at its column, and what holds it.
        let mut above = lines.above(here.n).filter(|l| l.content <= here.indent);
        let sibling = above.next()?;
        if sibling.content != here.indent || sibling.item() || sibling.key().is_none() {
            return None;
        }
        let owner = above
            .find(|l| l.content < here.indent)
            .and_then(|l| l.key());
        return Some(Cause::ItemAmongKeys {
            line: here.n,
            item: cut(here.text.trim()),
            owner: owner.map_or(Owner::Top, |k| Owner::Key(cut(k))),
        });
    }
    let key = here.key()?;
    let spaces = here.content;
    // Climb the lines above: each line left of every one seen so far opens the block they are
    // in. Stop at the first line left of this one: it holds the block this line fell short of.
    let mut keys_at = None;
    let mut item = None;
    let mut outer = None;
    for line in lines.above(here.n) {
        let c = line.content;
        match keys_at {
            _ if c == spaces && keys_at.is_none_or(|k| c < k) => return None,
            Some(k) if c > k => continue,
            Some(k) if c == k => {}
            _ if c < spaces => {
                outer = Some(line);
                break;
            }
            _ => {
                keys_at = Some(c);
                item = None;
            }
        }
        // The nearest list item at this column holds the keys below it.
        if line.item() && item.is_none() {
            item = Some(line.n);
        }
    }
    let keys_at = keys_at?;
    let owner = match (item, outer.and_then(|l| l.key())) {
        (Some(line), _) => Owner::Item(line),
        (None, Some(k)) => Owner::Key(cut(k)),
        (None, None) => Owner::Top,
    };
    let outer = outer
        .filter(|_| item.is_none())
        .and_then(|l| Some((cut(l.key()?), l.content)));
    Some(Cause::Between {
        key: cut(key),
        line: here.n,
        spaces,
        keys_at,
        owner,
        outer,
    })
}

/// `title: "a" b`: the quoted part ended the value.
fn after_quote(here: Line<'_>) -> Option<Cause> {
    let (key, value) = match here.key() {
        Some(k) => (Some(k), here.value()?),
        None => (None, here.rest().trim()),
    };
    let first = value.chars().next()?;
    // `'it's'`: the outer quotes were meant, and a `'` inside single quotes is written twice.
    let fixed_value = if first == '\'' && value.len() > 1 && value.ends_with('\'') {
        format!("'{}'", value[1..value.len() - 1].replace('\'', "''"))
    } else if first == '"' {
        format!("'{}'", value.replace('\'', "''"))
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    };
    let fixed = match key {
        Some(k) => format!("{k}: {fixed_value}"),
        None => fixed_value,
    };
    Some(Cause::AfterQuote {
        line: here.n,
        fixed: cut(&fixed),
    })
}

/// A value starting with `@`, `` ` ``, `%`, `*`, `&`...
fn reserved(here: Line<'_>, ch: char) -> Option<Cause> {
    let value = match here.key() {
        Some(_) => here.value()?,
        None => here.rest().trim(),
    };
    if value.is_empty() {
        return None;
    }
    Some(Cause::Reserved {
        ch,
        line: here.n,
        fixed: with_key(here.key(), value),
    })
}

/// Errors inside `[...]` and `{...}`: a bracket never closed (the error comes on a later
/// line), or a value that needs quotes on the bracket's own line.
fn flow(source: &SourceFile, n: usize, at: usize) -> Option<Cause> {
    let open = open_bracket(&source.text, at)?;
    let (line, column) = source.line_col(open);
    if line < n {
        let rest = &source.text[open..];
        let rest = &rest[..rest.find('\n').unwrap_or(rest.len())];
        Some(Cause::Bracket {
            open: char::from(source.text.as_bytes()[open]),
            line,
            column,
            comment: rest.contains(" #"),
        })
    } else {
        Some(Cause::InFlow { line: n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The help saphyr-parser's error gets for `text`.
    fn help(text: &str) -> String {
        let src = SourceFile::new("t.yaml", text);
        let err = saphyr_parser::Parser::new_from_str(text)
            .find_map(Result::err)
            .unwrap_or_else(|| panic!("no syntax error in:\n{text}"));
        let at = crate::source::CharIndex::new(text).byte(err.marker().index());
        syntax(&src, err.info(), at).unwrap_or_else(|| format!("(none for: {})", err.info()))
    }

    const HEAD: &str = "workflow: w\nversion: 1\nstart: a\nstages:\n  a:\n";

    fn stage(body: &str) -> String {
        format!("{HEAD}{body}ends: [done]\n")
    }

    #[test]
    fn a_key_between_two_levels_names_the_columns_above() {
        assert_eq!(
            help(&stage("    role: helper\n   next: [done]\n")),
            "`next:` on line 7 is indented 3 spaces, but the keys of `a` above start at column 5: indent it 4 spaces to keep it in `a`, or 2 to put it beside `a`"
        );
        assert_eq!(
            help(&stage(
                "    role: helper\n    next:\n      - to: done\n        when: output.x\n       on: y\n"
            )),
            "`on:` on line 10 is indented 7 spaces, but the keys of the list item on line 8 above start at column 9: indent it 8 spaces to keep it in the list item on line 8"
        );
    }

    #[test]
    fn a_key_deeper_than_the_one_above_is_read_as_its_value() {
        assert_eq!(
            help(&stage("    role: helper\n     next: [done]\n")),
            "`next:` on line 7 is indented 5 spaces, deeper than `role:` on line 6 (4 spaces), so YAML reads it as more of the value of `role`: indent it 4 spaces, like `role`"
        );
    }

    #[test]
    fn a_list_item_among_keys_is_named() {
        assert_eq!(
            help(&stage("    next: [done]\n  - b\n")),
            "line 7 is a list item (`- b`) among the keys of `stages`: a mapping holds `key: value` lines only, so give the item a key, or move it under a key whose value is a list"
        );
    }

    #[test]
    fn a_missing_colon_or_space_is_written_out() {
        assert_eq!(
            help(&stage("    role helper\n    next: [done]\n")),
            "line 6 has no `: ` after its key, so YAML reads it as text that runs on into the next line: write `role: helper`"
        );
        assert_eq!(
            help(&stage("    role:helper\n    next: [done]\n")),
            "line 6 has no `: ` after its key, so YAML reads it as text that runs on into the next line: write `role: helper`"
        );
    }

    #[test]
    fn quoting_problems_say_what_to_quote() {
        assert_eq!(
            help(&stage("    title: Step one: analyze\n    next: [done]\n")),
            "the value of `title` on line 6 holds `: `, which YAML reads as the start of another key: put the value in quotes, `title: \"Step one: analyze\"`"
        );
        assert_eq!(
            help(&stage("    title: \"Alpha\n    next: [done]\n")),
            "the `\"` at line 6, column 12 opens a quoted value that does not end on its line: end it with `\"` on the same line"
        );
        assert_eq!(
            help(&format!("{HEAD}    title: 'Alpha\n")),
            "the `'` at line 6, column 12 opens a quoted value that does not end on its line: end it with `'` on the same line (a `'` inside single quotes is written `''`)"
        );
        assert_eq!(
            help(&stage("    title: 'it's fine'\n")),
            "the value on line 6 starts with a quote, so YAML takes the quoted part as the whole value and refuses what follows it: write `title: 'it''s fine'`"
        );
        assert_eq!(
            help(&stage("    when: \"a\" == \"b\"\n")),
            "the value on line 6 starts with a quote, so YAML takes the quoted part as the whole value and refuses what follows it: write `when: '\"a\" == \"b\"'`"
        );
        assert_eq!(
            help(&stage("    title: @home\n")),
            "a plain YAML value cannot start with `@` (line 6): put the value in quotes, `title: \"@home\"`"
        );
        assert_eq!(
            help(&stage("    title: *x\n")),
            "YAML reads a value that starts with `*` as a reference to an anchor (line 6): put the value in quotes, `title: \"*x\"`"
        );
        assert_eq!(
            help(&stage("    title: \"a\\d\"\n")),
            "inside double quotes on line 6, `\\` starts an escape such as `\\n`: write a plain backslash as `\\\\`, or use single quotes"
        );
    }

    #[test]
    fn brackets_and_flow_values() {
        assert_eq!(
            help(&stage("    next: [done\n")),
            "the `[` at line 6, column 11 is never closed: end it with `]`"
        );
        assert_eq!(
            help(&stage("    next: [done, #b]\n    role: x\n")),
            "the `[` at line 6, column 11 is never closed: end it with `]`; the ` #` on line 6 starts a comment, which hides the rest of the line: put a value that holds `#` in quotes"
        );
        assert_eq!(
            help(&stage(
                "    next:\n      - {to: done, when: output.kind == a: b}\n"
            )),
            "inside `[...]` or `{...}` on line 7, a value that holds `: `, `,`, `[`, `]`, `{`, `}` or ` #` must be in quotes: quote it, or write the entries as indented `key: value` lines"
        );
        // A `[` in plain text or in a block scalar opens nothing.
        assert_eq!(open_bracket("a: x [y\nb: |\n  [z\nc: [d\n", 24), Some(21));
    }

    #[test]
    fn a_tab_is_named() {
        assert_eq!(
            help(&format!("{HEAD}\tnext: [done]\n")),
            "line 6 is indented with a tab: YAML indents with spaces only, so replace the tab with spaces"
        );
    }

    #[test]
    fn long_lines_are_cut_and_odd_input_has_no_help() {
        let long = "x".repeat(5000);
        let h = help(&stage(&format!("    title: {long}: y\n")));
        assert!(h.chars().count() < 400, "{h}");
        let src = SourceFile::new("t", "");
        assert_eq!(syntax(&src, "did not find expected key", 0), None);
        assert_eq!(syntax(&src, "anything", 99), None);
    }
}
