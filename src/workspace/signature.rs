//! A failing check's signature: the line that names its error, with the parts that change from
//! run to run (numbers, addresses) blanked. Guards compare signatures to tell "the same error
//! again" from "a new error" (`checks.test.error == previous.checks.test.error`), which is how
//! the debug loop decides between going back to the hypotheses and carrying on.

/// The longest signature kept, in characters.
const MAX_CHARS: usize = 200;

/// The signature of a failed check's output (`output` is the masked tail that `verify` keeps).
/// The line chosen, in order: the last one naming an exception or error type
/// (`ZeroDivisionError: …`, pytest's `FAILED … - TypeError: …`); a Rust panic with its message;
/// the first `error…` line (compilers, linters); the first line saying FAIL; else the last line.
#[must_use]
pub(crate) fn failure_signature(output: &str, timed_out: bool, exit_code: Option<i32>) -> String {
    if timed_out {
        return "timed out".into();
    }
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let pick = lines
        .iter()
        .rev()
        .find(|l| names_error_type(l))
        .map(|l| (*l).to_string())
        .or_else(|| {
            lines
                .iter()
                .position(|l| l.contains("panicked at"))
                .map(|i| {
                    // Since Rust 1.73 the panic's message is on the next line.
                    let next = lines.get(i + 1).copied().unwrap_or_default();
                    format!("{} {next}", lines[i])
                })
        })
        .or_else(|| {
            lines
                .iter()
                .find(|l| l.to_ascii_lowercase().starts_with("error"))
                .map(|l| (*l).to_string())
        })
        .or_else(|| {
            lines
                .iter()
                .find(|l| l.contains("FAIL"))
                .map(|l| (*l).to_string())
        })
        .or_else(|| lines.last().map(|l| (*l).to_string()));
    // A silent failure is told apart by its exit code alone, kept as it is.
    pick.map_or_else(
        || format!("exit code {}", exit_code.unwrap_or(-1)),
        |l| normalize(&l),
    )
}

/// `ValueError: …`, `java.lang.IllegalStateException`, `AssertionError` — a word ending in
/// Error or Exception followed by `:` or the end of the line.
fn names_error_type(line: &str) -> bool {
    line.split(|c: char| c.is_whitespace() || c == '-')
        .any(|w| {
            let w = w.strip_suffix(':').unwrap_or(w);
            let ty = w.rsplit('.').next().unwrap_or(w);
            (ty.ends_with("Error") || ty.ends_with("Exception"))
                && ty.len() > "Error".len()
                && ty.starts_with(|c: char| c.is_ascii_uppercase())
        })
}

/// Numbers (line numbers, timings, ids) and hex addresses blanked, whitespace collapsed.
fn normalize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut last_space = false;
    while let Some(c) = chars.next() {
        if c == '0' && chars.peek() == Some(&'x') {
            chars.next();
            while chars.peek().is_some_and(char::is_ascii_hexdigit) {
                chars.next();
            }
            out.push_str("0x#");
            last_space = false;
        } else if c.is_ascii_digit() {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('#');
            last_space = false;
        } else if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out.trim().chars().take(MAX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_error_on_another_line_reads_the_same() {
        let a = "tests/test_ratings.py F\n\
                 E   ZeroDivisionError: division by zero\n\
                 shop/ratings.py:42: ZeroDivisionError\n\
                 FAILED tests/test_ratings.py::test_empty - ZeroDivisionError: division by zero\n\
                 ===== 1 failed, 4 passed in 0.42s =====";
        let b = a.replace(":42:", ":43:").replace("0.42s", "0.51s");
        assert_eq!(
            failure_signature(a, false, Some(1)),
            "FAILED tests/test_ratings.py::test_empty - ZeroDivisionError: division by zero"
        );
        assert_eq!(
            failure_signature(a, false, Some(1)),
            failure_signature(&b, false, Some(1))
        );
    }

    #[test]
    fn a_new_error_reads_differently() {
        let old = "E   ZeroDivisionError: division by zero";
        let new = "E   TypeError: '<' not supported between instances of 'NoneType' and 'float'";
        assert_ne!(
            failure_signature(old, false, Some(1)),
            failure_signature(new, false, Some(1))
        );
    }

    #[test]
    fn rust_panics_compilers_and_plain_failures() {
        let panic = "running 1 test\nthread 'ratings::empty' panicked at src/ratings.rs:12:5:\n\
                     attempt to divide by zero\ntest result: FAILED. 0 passed; 1 failed";
        assert_eq!(
            failure_signature(panic, false, Some(101)),
            "thread 'ratings::empty' panicked at src/ratings.rs:#:#: attempt to divide by zero"
        );
        let rustc = "   Compiling shop v0.1.0\nerror[E0425]: cannot find value `x` in this scope\n";
        assert_eq!(
            failure_signature(rustc, false, Some(101)),
            "error[E#]: cannot find value `x` in this scope"
        );
        assert_eq!(
            failure_signature("FAIL src/a.test.js\n  ● adds", false, Some(1)),
            "FAIL src/a.test.js"
        );
        assert_eq!(failure_signature("", false, Some(2)), "exit code 2");
        assert_eq!(failure_signature("x", true, None), "timed out");
        assert_eq!(failure_signature("at 0xdeadBEEF", false, None), "at 0x#");
    }

    #[test]
    fn error_types_are_words_not_substrings() {
        assert!(names_error_type("java.lang.IllegalStateException: boom"));
        assert!(names_error_type("AssertionError"));
        assert!(!names_error_type("Error: plain"));
        assert!(!names_error_type("no errors here"));
    }
}
