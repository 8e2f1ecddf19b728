//! Lint never panics: arbitrary bytes, truncations, deep nesting, huge numbers, duplicates,
//! nesting bombs of every shape and depth, and big mappings. The test threads have 2 MiB
//! stacks, like the server's workers, so a recursion that the limits miss shows up as a crash.

use maestro::Format;
use maestro::Home;
use maestro::Linter;
use maestro::Rule;
use proptest::prelude::*;

const DEFAULT: &str = include_str!("../../workflows/default.kdl");
const REVIEW: &str = include_str!("../../workflows/review.yaml");

fn lint(bytes: &[u8], format: Format) -> maestro::Loaded {
    let mut linter = Linter::new(Home::builtin());
    let loaded = linter.workflow_bytes("fuzz", bytes, format);
    let _ = linter.take_asset_findings();
    loaded
}

fn check(bytes: &[u8], format: Format) {
    let loaded = lint(bytes, format);
    // Every input is either a workflow or explained by findings.
    assert!(loaded.workflow.is_some() || !loaded.diagnostics.is_empty());
    for d in &loaded.diagnostics {
        assert!(
            d.span.start <= d.span.end && d.span.end <= loaded.source.text.len(),
            "{d:?}"
        );
        let _ = d.location();
    }
    let _ = maestro::testing::human_plain(&loaded.diagnostics);
}

/// Openers that nest in KDL, with what closes each (`None`: nothing closes it).
const KDL_OPENERS: &[(&str, Option<&str>)] = &[
    ("a {", Some("}")),
    ("{", Some("}")),
    ("/*", Some("*/")),
    ("/-", None),
    ("/- a {", Some("}")),
    ("(", Some(")")),
    ("[", Some("]")),
    ("\"", Some("\"")),
    ("a=", None),
    ("}", None),
    ("#\"", Some("\"#")),
    ("\"\"\"\n", Some("\n\"\"\"")),
];

/// The same for YAML, block and flow.
const YAML_OPENERS: &[(&str, Option<&str>)] = &[
    ("[", Some("]")),
    ("{a: ", Some("}")),
    ("- ", None),
    ("? ", None),
    ("a: [", Some("]")),
    ("{", Some("}")),
    ("&x ", None),
    ("\"", Some("\"")),
];

/// A bomb: openers picked by `picks`, repeated to `depth`, closed (in reverse) when `close`.
fn bomb(
    openers: &[(&str, Option<&str>)],
    picks: &[usize],
    depth: usize,
    close: bool,
    head: &str,
) -> String {
    let mut text = String::from(head);
    let mut closers = Vec::new();
    for i in 0..depth {
        let (open, shut) = openers[picks[i % picks.len()] % openers.len()];
        text.push_str(open);
        if let Some(shut) = shut {
            closers.push(shut);
        }
    }
    if close {
        while let Some(shut) = closers.pop() {
            text.push_str(shut);
        }
    }
    text
}

/// A YAML block ladder: each key one more space in than the last.
fn ladder(depth: usize, step: usize) -> String {
    (0..depth)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i * step)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn kdl_nesting_bombs(picks in proptest::collection::vec(0usize..64, 1..6), depth in 0usize..6000, close: bool, head in prop::sample::select(vec!["", "workflow \"w\" {", "workflow \"w\" { stage \"a\" "])) {
        let text = bomb(KDL_OPENERS, &picks, depth, close, head);
        check(text.as_bytes(), Format::Kdl);
    }

    #[test]
    fn yaml_nesting_bombs(picks in proptest::collection::vec(0usize..64, 1..6), depth in 0usize..6000, close: bool, head in prop::sample::select(vec!["", "workflow: w\nx: ", "workflow: w\nstages:\n  a:\n    next: "])) {
        let text = bomb(YAML_OPENERS, &picks, depth, close, head);
        check(text.as_bytes(), Format::Yaml);
    }

    #[test]
    fn yaml_block_ladders(depth in 0usize..400, step in 1usize..4) {
        let text = ladder(depth, step);
        let loaded = lint(text.as_bytes(), Format::Yaml);
        check(text.as_bytes(), Format::Yaml);
        // Past 64 levels the depth itself is the finding.
        if depth > 64 {
            prop_assert!(loaded.diagnostics.iter().any(|d| d.rule == Rule::Syntax && d.message.contains("64")));
        }
    }

}

proptest! {
    // Thousands of findings per case: fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn big_and_duplicate_mappings(keys in proptest::collection::vec(0u32..600, 0..900)) {
        let mut yaml = String::from("workflow: w\nversion: 1\nstart: a\nbudget:\n");
        let mut kdl = String::from("workflow \"w\" {\n version 1\n start \"a\"\n budget");
        let mut flow = String::from("workflow: w\nbudget: {");
        for k in &keys {
            yaml.push_str(&format!("  k{k}: 1\n"));
            kdl.push_str(&format!(" k{k}=1"));
            flow.push_str(&format!("k{k}: 1, "));
        }
        kdl.push_str("\n}\n");
        flow.push_str("}\n");
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        for (text, format) in [(yaml, Format::Yaml), (kdl, Format::Kdl), (flow, Format::Yaml)] {
            check(text.as_bytes(), format);
            let loaded = lint(text.as_bytes(), format);
            // Every repeat is one duplicate-key finding, every distinct key one unknown-key.
            let count = |rule| loaded.diagnostics.iter().filter(|d| d.rule == rule).count();
            prop_assert_eq!(count(Rule::DuplicateKey), keys.len() - distinct.len());
            prop_assert_eq!(count(Rule::UnknownKey), distinct.len());
        }
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes, Format::Kdl);
        check(&bytes, Format::Yaml);
    }

    #[test]
    fn truncated_and_mutated_defaults(cut in 0usize..DEFAULT.len(), at in 0usize..DEFAULT.len(), junk in "[{}\"=#\\\\ \n\u{ac00}a-z0-9]{0,8}") {
        check(&DEFAULT.as_bytes()[..cut], Format::Kdl);
        let mut mutated = DEFAULT.as_bytes().to_vec();
        let at = at.min(mutated.len());
        mutated.splice(at..at, junk.bytes());
        check(&mutated, Format::Kdl);
        let ycut = cut.min(REVIEW.len());
        check(&REVIEW.as_bytes()[..ycut], Format::Yaml);
    }

    #[test]
    fn huge_numbers(n in any::<i128>(), f in any::<f64>()) {
        let text = format!("workflow \"w\" {{ version {n}\n start \"a\"\n budget consults={n} cost-usd={f:?}\n stage \"a\" {{ max-visits {n}\n vote k={n} p={f:?}\n next \"a\" }} }}");
        check(text.as_bytes(), Format::Kdl);
    }
}

#[test]
fn findings_are_capped_per_file_and_the_rest_counted() {
    use maestro::testing::diagnostic::MAX_FINDINGS_PER_FILE;
    let yaml: String = std::iter::once("workflow: w\n".to_string())
        .chain((0..5000).map(|i| format!("k{i}: 1\n")))
        .collect();
    let l = lint(yaml.as_bytes(), Format::Yaml);
    assert_eq!(l.diagnostics.len(), MAX_FINDINGS_PER_FILE + 1);
    let last = l.diagnostics.last().unwrap();
    assert_eq!(last.rule, Rule::UnknownKey);
    assert!(
        last.message
            .starts_with("4002 more findings in this file are not shown"),
        "{}",
        last.message
    );
}

#[test]
fn the_bombs_of_issue_9_are_syntax_findings() {
    let kdl = [
        // The 2 KB file that killed `maestro serve`: nested block comments, never closed.
        format!("/*{}", "/*".repeat(1000)),
        format!("/*{}", "*/*".repeat(700)),
        "}".repeat(50_000),
        "a=".repeat(50_000),
        format!("workflow \"w\" {}", "/- a { ".repeat(5000)),
        format!("workflow \"w\" {}", "(t)".repeat(50_000)),
    ];
    for text in &kdl {
        let l = lint(text.as_bytes(), Format::Kdl);
        assert!(
            l.diagnostics.iter().any(|d| d.rule == Rule::Syntax),
            "{}",
            &text[..20]
        );
    }
    let yaml = [
        format!("workflow: w\nx: {}", "{a: ".repeat(50_000)),
        format!("workflow: w\nx: {}", "- ".repeat(50_000)),
        ladder(2000, 1),
    ];
    for text in &yaml {
        let l = lint(text.as_bytes(), Format::Yaml);
        assert!(
            l.diagnostics.iter().any(|d| d.rule == Rule::Syntax),
            "{}",
            &text[..20]
        );
    }
}

#[test]
fn deep_nesting_in_both_formats() {
    for depth in [100, 10_000, 200_000] {
        let kdl = format!(
            "workflow \"w\" {}{}",
            "{ a ".repeat(depth),
            "}".repeat(depth)
        );
        let l = lint(kdl.as_bytes(), Format::Kdl);
        assert!(l.diagnostics.iter().any(|d| d.rule == Rule::Syntax));
        let yaml = format!("workflow: w\nx: {}{}", "[".repeat(depth), "]".repeat(depth));
        let l = lint(yaml.as_bytes(), Format::Yaml);
        assert!(l.diagnostics.iter().any(|d| d.rule == Rule::Syntax));
    }
}

#[test]
fn huge_literal_numbers_are_findings() {
    let text = "workflow \"w\" {\n version 1\n start \"a\"\n budget consults=99999999999999999999999999999999999999999999\n stage \"a\" {\n next \"done\"\n }\n end \"done\"\n}\n";
    let l = lint(text.as_bytes(), Format::Kdl);
    assert!(!l.diagnostics.is_empty());
}

#[test]
fn duplicate_keys_are_findings_in_both_formats() {
    let kdl = "workflow \"w\" {\n version 1\n version 1\n start \"a\"\n stage \"a\" {\n role \"x\"\n role \"y\"\n next \"done\" on=\"done\" on=\"done\"\n }\n end \"done\"\n}\n";
    let l = lint(kdl.as_bytes(), Format::Kdl);
    assert_eq!(
        l.diagnostics
            .iter()
            .filter(|d| d.rule == Rule::DuplicateKey)
            .count(),
        3,
        "{:?}",
        l.diagnostics
    );
    let yaml = "workflow: w\nversion: 1\nversion: 1\nstart: a\nstages:\n  a:\n    next: [done]\n  a:\n    next: [done]\nends: [done]\n";
    let l = lint(yaml.as_bytes(), Format::Yaml);
    assert_eq!(
        l.diagnostics
            .iter()
            .filter(|d| d.rule == Rule::DuplicateKey)
            .count(),
        2,
        "{:?}",
        l.diagnostics
    );
}
