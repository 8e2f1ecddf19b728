//! `maestro validate`: the fixture corpus, rule docs, renderings, exit codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use maestro::Rule;

use crate::support::{Test, repo};

const FIXTURE_HOME: &str = "tests/fixtures/validate/home";

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("kdl" | "yaml" | "yml")
            )
        })
        .collect();
    files.sort();
    files
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// (rule, line:col, file relative to the fixture home or "" for the fixture itself) → count
fn findings(out: &crate::support::Output, fixture: &str) -> BTreeMap<String, usize> {
    let mut map = BTreeMap::new();
    for (key, _) in keyed(out, fixture) {
        *map.entry(key).or_default() += 1;
    }
    map
}

/// Each finding as its `.expected` line, with its help.
fn keyed(out: &crate::support::Output, fixture: &str) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for f in out.json_lines() {
        let file = f["file"].as_str().unwrap_or_default();
        let place = if file == fixture {
            String::new()
        } else {
            let home_prefix = format!("{FIXTURE_HOME}/");
            format!(" {}", file.strip_prefix(&home_prefix).unwrap_or(file))
        };
        let key = format!(
            "{} {}:{}{place}",
            f["rule"].as_str().unwrap_or_default(),
            f["line"],
            f["column"]
        );
        all.push((key, f["help"].as_str().unwrap_or_default().to_string()));
    }
    all
}

#[test]
fn every_error_fixture_yields_exactly_its_expected_findings() {
    let mut covered = std::collections::HashSet::new();
    let mut yaml_covered = std::collections::HashSet::new();
    let mut failures = Vec::new();
    for path in fixtures("tests/fixtures/validate/err") {
        let fixture = rel(&path);
        let expected_path = PathBuf::from(format!("{}.expected", path.display()));
        let expected_text = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{fixture} has no .expected file"));
        let mut expected = BTreeMap::new();
        // `help: <text>` under a finding: that finding's help, word for word.
        let mut helps: Vec<(String, String)> = Vec::new();
        let mut last = None;
        for line in expected_text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            if let Some(help) = line.strip_prefix("help: ") {
                let finding: &String = last
                    .as_ref()
                    .unwrap_or_else(|| panic!("{fixture}: `help:` before any finding"));
                helps.push((finding.clone(), help.to_string()));
                continue;
            }
            last = Some(line.to_string());
            *expected.entry(line.to_string()).or_default() += 1;
            let rule = line.split_whitespace().next().unwrap_or_default();
            assert!(
                Rule::from_id(rule).is_some(),
                "{fixture}: unknown rule id `{rule}` in .expected"
            );
            covered.insert(rule.to_string());
            if fixture.ends_with(".yaml") {
                yaml_covered.insert(rule.to_string());
            }
        }
        assert!(
            !expected.is_empty(),
            "{fixture}: an error fixture must expect at least one finding"
        );
        let out = Test::new()
            .args(&[
                "validate",
                "--home",
                FIXTURE_HOME,
                "--format",
                "json",
                &fixture,
            ])
            .run();
        let actual = findings(&out, &fixture);
        if actual != expected {
            failures.push(format!(
                "{fixture}\n  expected: {expected:?}\n  actual:   {actual:?}"
            ));
        }
        let with_help = keyed(&out, &fixture);
        for (finding, help) in &helps {
            if !with_help.iter().any(|(k, h)| k == finding && h == help) {
                let got: Vec<&String> = with_help
                    .iter()
                    .filter(|(k, _)| k == finding)
                    .map(|(_, h)| h)
                    .collect();
                failures.push(format!(
                    "{fixture}: {finding}\n  expected help: {help}\n  actual help:   {got:?}"
                ));
            }
        }
        let has_error = expected.keys().any(|k| {
            Rule::from_id(k.split_whitespace().next().unwrap_or_default())
                .is_some_and(|r| r.severity() == maestro::testing::diagnostic::Severity::Error)
        });
        assert_eq!(
            out.code,
            i32::from(has_error),
            "{fixture}: exit code {}\n{}",
            out.code,
            out.stderr
        );
    }
    assert!(
        failures.is_empty(),
        "fixtures disagree:\n{}",
        failures.join("\n")
    );
    for rule in Rule::ALL {
        assert!(
            covered.contains(rule.id()),
            "no error fixture for rule `{}`",
            rule.id()
        );
    }
    for id in ["syntax", "unknown-key", "unknown-stage", "bad-value"] {
        assert!(
            yaml_covered.contains(id),
            "no YAML error fixture for rule `{id}`"
        );
    }
}

#[test]
fn ok_fixtures_are_silent() {
    let files = fixtures("tests/fixtures/validate/ok");
    assert!(files.len() >= 6);
    for path in files {
        let fixture = rel(&path);
        let out = Test::new()
            .args(&[
                "validate",
                "--deny-warnings",
                "--home",
                FIXTURE_HOME,
                "--format",
                "json",
                &fixture,
            ])
            .run();
        assert_eq!(out.stdout, "", "{fixture} should be clean");
        assert_eq!(out.code, 0, "{fixture}: {}", out.stderr);
    }
}

#[test]
fn every_rule_has_docs_whose_example_triggers_it() {
    for rule in Rule::ALL {
        let path = repo().join(format!("docs/rules/{}.md", rule.id()));
        let doc = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("missing docs/rules/{}.md", rule.id()));
        assert!(
            doc.starts_with(&format!("# {}", rule.id())),
            "{}: title",
            rule.id()
        );
        let example = doc
            .split("```kdl")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap_or_else(|| panic!("docs/rules/{}.md has no ```kdl example", rule.id()));
        let out = Test::new()
            .args(&["validate", "--home", FIXTURE_HOME, "--format", "json", "-"])
            .stdin(example)
            .run();
        let rules: Vec<String> = out
            .json_lines()
            .iter()
            .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(
            rules.iter().any(|r| r == rule.id()),
            "the example in docs/rules/{}.md does not trigger it; got {rules:?}",
            rule.id()
        );
    }
}

#[test]
fn default_assets_pass_with_deny_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = Test::new()
        .current_dir(dir.path())
        .args(&["validate", "--deny-warnings"])
        .expect(0);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .contains("4 workflows checked: 0 errors, 0 warnings"),
        "{}",
        out.stderr
    );
}

#[test]
fn human_rendering_underlines_the_source_and_suggests() {
    for fixture in [
        "tests/fixtures/validate/err/unknown-key.kdl",
        "tests/fixtures/validate/err/unknown-stage.kdl",
        "tests/fixtures/validate/err/duplicate-stage.kdl",
        "tests/fixtures/validate/err/bad-value.yaml",
        "tests/fixtures/validate/err/template-error.kdl",
    ] {
        let out = Test::new()
            .args(&["validate", "--home", FIXTURE_HOME, fixture])
            .run();
        let name = fixture
            .rsplit('/')
            .next()
            .unwrap_or(fixture)
            .replace('.', "_");
        insta::assert_snapshot!(name, out.stdout);
    }
}

#[test]
fn github_format_annotates_lines() {
    let out = Test::new()
        .args(&[
            "validate",
            "--home",
            FIXTURE_HOME,
            "--format",
            "github",
            "tests/fixtures/validate/err/unknown-stage.kdl",
        ])
        .expect(1);
    let line = out.stdout.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("::error file=tests/fixtures/validate/err/unknown-stage.kdl,line="),
        "{line}"
    );
    assert!(line.contains("title=unknown-stage::"), "{line}");
}

#[test]
fn exit_codes_follow_the_contract() {
    // usage error
    Test::new().args(&["validate", "--format", "xml"]).expect(2);
    // unreadable file
    let out = Test::new()
        .args(&["validate", "no/such/file.kdl"])
        .expect(3);
    assert!(
        out.stderr.contains("cannot read no/such/file.kdl"),
        "{}",
        out.stderr
    );
    // warnings only: 0, or 1 with --deny-warnings
    let warn_only = "workflow \"w\" {\n    version 1\n    start \"a\"\n    stage \"a\" {\n        next \"done\"\n    }\n    stage \"b\" {\n        next \"done\"\n    }\n    end \"done\"\n}\n";
    let out = Test::new()
        .args(&["validate", "--format", "json", "-"])
        .stdin(warn_only)
        .expect(0);
    assert_eq!(out.json_lines()[0]["rule"], "unreachable-stage");
    Test::new()
        .args(&["validate", "--deny-warnings", "-"])
        .stdin(warn_only)
        .expect(1);
}

#[test]
fn stdin_accepts_both_formats() {
    let kdl = "workflow \"w\" {\n    version 1\n    start \"a\"\n    stage \"a\" {\n        next \"done\"\n    }\n    end \"done\"\n}\n";
    Test::new().args(&["validate", "-"]).stdin(kdl).expect(0);
    let yaml = "workflow: w\nversion: 1\nstart: a\nstages:\n  a:\n    next:\n      - to: dne\nends: [done]\n";
    let out = Test::new()
        .args(&["validate", "--format", "json", "-"])
        .stdin(yaml)
        .expect(1);
    let f = &out.json_lines()[0];
    assert_eq!(f["rule"], "unknown-stage");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(7), Some(13))
    );
    assert_eq!(f["file"], "<stdin>");
    assert_eq!(f["help"], "did you mean `done`?");
}

#[test]
fn non_utf8_input_is_a_syntax_finding() {
    let out = Test::new()
        .args(&["validate", "--format", "json", "-"])
        .stdin(&b"workflow \"w\" { version 1 \xff }"[..])
        .expect(1);
    assert_eq!(out.json_lines()[0]["rule"], "syntax");
}

#[test]
fn a_workflow_in_a_home_folder_uses_that_homes_assets() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("myhome");
    std::fs::create_dir_all(home.join("workflows")).unwrap();
    std::fs::create_dir_all(home.join("roles")).unwrap();
    std::fs::write(home.join("roles/mine.md.j2"), "Do {{ task }} well.\n").unwrap();
    let wf = home.join("workflows/w.kdl");
    std::fs::write(&wf, "workflow \"w\" {\n    version 1\n    start \"a\"\n    stage \"a\" {\n        role \"mine\"\n        next \"done\"\n    }\n    end \"done\"\n}\n").unwrap();
    Test::new()
        .args(&["validate", wf.to_str().unwrap()])
        .expect(0);
    std::fs::write(home.join("roles/mine.md.j2"), "Do {{ tsk }} well.\n").unwrap();
    let out = Test::new()
        .args(&["validate", "--format", "json", wf.to_str().unwrap()])
        .expect(1);
    let f = &out.json_lines()[0];
    assert_eq!(f["rule"], "undefined-variable");
    assert!(f["file"].as_str().unwrap().ends_with("roles/mine.md.j2"));
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(1), Some(7))
    );
}

/// A span-free, language-resolved view of a workflow, for comparing the two formats.
fn canonical(wf: &maestro::testing::Workflow) -> serde_json::Value {
    use maestro::testing::Texts;
    use serde_json::json;
    let langs: Vec<String> = wf.langs.iter().map(|l| l.value.clone()).collect();
    let default = wf.default_lang().to_string();
    let texts = |t: &Option<Texts>| -> serde_json::Value {
        t.as_ref().map_or(serde_json::Value::Null, |t| {
            let mut all: Vec<String> = langs.clone();
            all.extend(t.by_lang.iter().map(|(l, _)| l.clone()));
            all.push(default.clone());
            all.sort();
            all.dedup();
            json!(
                all.iter()
                    .map(|l| (l.clone(), t.exact(l, &default).map(str::to_string)))
                    .collect::<Vec<_>>()
            )
        })
    };
    let name = |s: &Option<maestro::testing::Spanned<String>>| s.as_ref().map(|v| v.value.clone());
    json!({
        "name": wf.name.value, "version": wf.version.map(|v| v.to_string()), "start": name(&wf.start), "langs": langs,
        "summary": texts(&wf.summary),
        "budget": [wf.budget.consults.as_ref().map(|c| c.value), wf.budget.wall_secs.map(|w| w as u32), wf.budget.tokens.map(|t| t as u32)],
        "cost": wf.budget.cost_usd, "policy": [wf.policy.capability_threshold, f64::from(wf.policy.max_agents)], "preset": wf.policy.preset,
        "ends": wf.ends.iter().map(|e| e.value.clone()).collect::<Vec<_>>(),
        "stages": wf.stages.iter().map(|s| {
            let st = &s.settings;
            json!({
                "name": s.name.value, "title": texts(&s.title), "role": name(&st.role), "skill": name(&st.skill),
                "output": name(&st.output), "topology": s.topology().as_str(), "max_visits": s.max_visits(),
                "consult": [st.consult.max.as_ref().map(|m| m.value), Some(u32::from(st.consult.ensemble())), st.consult.from_visit.as_ref().map(|v| v.value)],
                "context": [s.context_chars(), st.context.files, st.context.lines, st.context.error_lines],
                "wall": s.wall_secs(),
                "prefer": st.consult.prefer.iter().map(|p| p.value.clone()).collect::<Vec<_>>(),
                "red_flags": serde_json::to_value(&st.red_flags).unwrap_or_default(),
                "vote": st.vote.as_ref().map(|v| json!([v.k, v.max_samples, v.target.as_ref().map(|t| t.value), v.p.as_ref().map(|p| p.value), v.steps])),
                "gate": st.gate.as_ref().map(|g| json!({
                    "by": g.by, "timeout": g.timeout_secs, "on_timeout": g.on_timeout,
                    "questions": g.questions.iter().map(|q| json!({
                        "id": q.id.value, "priority": q.priority, "text": texts(&Some(q.text.clone())),
                        "options": langs.iter().map(|l| q.options_in(l).to_vec()).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })),
                "next": s.next.iter().map(|e| json!([e.to.value, e.event(s), e.when.as_ref().map(|w| w.value.clone())])).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    })
}

#[test]
fn kdl_and_yaml_pairs_lower_to_the_same_workflow() {
    use maestro::Format;
    use maestro::load_bytes;
    let dir = repo().join("tests/fixtures/validate/pairs");
    let mut pairs = 0;
    for kdl in fixtures("tests/fixtures/validate/pairs")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
    {
        let yaml = kdl.with_extension("yaml");
        let k = load_bytes("k", &std::fs::read(&kdl).unwrap(), Format::Kdl);
        let y = load_bytes(
            "y",
            &std::fs::read(&yaml).unwrap_or_else(|_| panic!("{} has no YAML twin", kdl.display())),
            Format::Yaml,
        );
        assert!(
            k.diagnostics.is_empty(),
            "{}: {:?}",
            kdl.display(),
            k.diagnostics
        );
        assert!(
            y.diagnostics.is_empty(),
            "{}: {:?}",
            yaml.display(),
            y.diagnostics
        );
        assert_eq!(
            canonical(k.workflow.as_ref().unwrap()),
            canonical(y.workflow.as_ref().unwrap()),
            "{} and its YAML twin differ",
            kdl.display()
        );
        pairs += 1;
    }
    assert!(
        pairs >= 3,
        "only {pairs} KDL/YAML pairs in {}",
        dir.display()
    );
}

/// Inputs that overflowed the stack (issue 9) or nest past the limit, in both formats.
fn bombs() -> Vec<(&'static str, String)> {
    let ladder: String = (0..200)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    vec![
        // The 2 KB file that killed `maestro serve`: `/*` and 2,000 more `/` and `*`.
        ("comments.kdl", format!("/*{}", "/*".repeat(1000))),
        ("comment-stars.kdl", format!("/*{}", "*/*".repeat(5000))),
        (
            "braces.kdl",
            format!("workflow \"w\" {}", "{ a ".repeat(10_000)),
        ),
        (
            "children.kdl",
            format!(
                "workflow \"w\" {{\n{}{}}}\n",
                "a {\n".repeat(5000),
                "}\n".repeat(5000)
            ),
        ),
        (
            "slashdash.kdl",
            format!("workflow \"w\" {{\n{}a\n}}\n", "/- ".repeat(20_000)),
        ),
        (
            "slashdash-children.kdl",
            format!("workflow \"w\" {}", "/- { ".repeat(10_000)),
        ),
        ("close-braces.kdl", "}".repeat(20_000)),
        ("properties.kdl", "a=".repeat(20_000)),
        (
            "flow.yaml",
            format!("workflow: w\nx: {}", "[".repeat(10_000)),
        ),
        (
            "flow-maps.yaml",
            format!("workflow: w\nx: {}", "{a: ".repeat(10_000)),
        ),
        ("block.yaml", ladder),
        (
            "dashes.yaml",
            format!("workflow: w\nx:\n{}a\n", "- ".repeat(10_000)),
        ),
    ]
}

#[test]
fn nesting_bombs_are_syntax_findings_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in bombs() {
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        let out = Test::new()
            .args(&["validate", "--format", "json", path.to_str().unwrap()])
            .run();
        // A signal (stack overflow) shows as -1, a panic as 101.
        assert_eq!(out.code, 1, "{name}: exit {}\n{}", out.code, out.stderr);
        let rules: Vec<String> = out
            .json_lines()
            .iter()
            .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(rules.iter().any(|r| r == "syntax"), "{name}: {rules:?}");
    }
}

/// `maestro serve` compiles workflows on tokio workers, whose stacks are 2 MiB: linting must
/// fit there, in a debug build too.
#[test]
fn bombs_lint_on_a_two_megabyte_stack() {
    use maestro::Format;
    use maestro::Home;
    use maestro::Linter;
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut linter = Linter::new(Home::builtin());
            for (name, text) in bombs() {
                let format = Format::from_path(name).unwrap_or(Format::Kdl);
                let loaded = linter.workflow_bytes(name, text.as_bytes(), format);
                assert!(
                    loaded.diagnostics.iter().any(|d| d.rule == Rule::Syntax),
                    "{name}"
                );
            }
        })
        .unwrap();
    worker.join().expect("linting the bombs panicked");
}

/// A long chain of stages is no bomb, but every graph walk over it must be iterative.
#[test]
fn a_chain_of_forty_thousand_stages_lints_on_a_two_megabyte_stack() {
    use maestro::Format;
    use maestro::Home;
    use maestro::Linter;
    let n = 40_000;
    let mut text = String::from("workflow \"chain\" {\n version 1\n start \"s0\"\n");
    for i in 0..n {
        text.push_str(&format!(" stage \"s{i}\" {{ next \"s{}\" }}\n", i + 1));
    }
    text.push_str(&format!(
        " stage \"s{n}\" {{ next \"s0\" }}\n end \"done\"\n}}\n"
    ));
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut linter = Linter::new(Home::builtin());
            let loaded = linter.workflow_bytes("chain.kdl", text.as_bytes(), Format::Kdl);
            loaded
                .diagnostics
                .iter()
                .map(|d| d.rule.id())
                .collect::<Vec<_>>()
        })
        .unwrap();
    let rules = worker.join().expect("linting the chain panicked");
    // One loop through every stage, with no bound and no way to an end.
    assert!(rules.contains(&"unbounded-loop"), "{rules:?}");
    assert!(rules.contains(&"no-end"), "{rules:?}");
}

#[test]
fn a_folder_validates_the_workflow_files_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("workflows");
    std::fs::create_dir_all(&wf).unwrap();
    std::fs::write(
        wf.join("a.kdl"),
        "workflow \"a\" {\n    version 1\n    start \"done\"\n    end \"done\"\n}\n",
    )
    .unwrap();
    std::fs::write(wf.join("b.yaml"), "workflow: b\nversion: 1\nstages: {}\n").unwrap();
    std::fs::write(wf.join("notes.txt"), "not a workflow").unwrap();
    let out = Test::new()
        .current_dir(dir.path())
        .args(&["validate", "workflows"])
        .expect(1);
    assert!(out.stderr.contains("2 workflows checked"), "{}", out.stderr);
    assert!(out.stdout.contains("b.yaml"), "{}", out.stdout);
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let out = Test::new()
        .current_dir(dir.path())
        .args(&["validate", "empty"])
        .expect(3);
    assert!(
        out.stderr.contains("holds no workflow file"),
        "{}",
        out.stderr
    );
}
