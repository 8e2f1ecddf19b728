//! Lint never panics: arbitrary bytes, truncations, deep nesting, huge numbers, duplicates.

use maestro::home::Home;
use maestro::lint::Linter;
use maestro::lint::registry::Rule;
use maestro::syntax::ast::Format;
use proptest::prelude::*;

const DEFAULT: &str = include_str!("../../workflows/default.kdl");
const REVIEW: &str = include_str!("../../workflows/review.yaml");

fn lint(bytes: &[u8], format: Format) -> maestro::loader::Loaded {
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
    let _ = maestro::render::human_plain(&loaded.diagnostics);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

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
