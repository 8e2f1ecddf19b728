//! Coordination and language rules: `budget-conflict`, `risky-topology`, `vote-diverges`,
//! `missing-translation`.

use std::collections::HashSet;

use super::cascade::Unset;
use crate::diagnostic::{Diagnostic, Rule};
use crate::source::Span;
use crate::workflow::{Stage, Texts, Topology, Workflow};

/// Whether a setting's span lies outside the stage: it was inherited from `defaults`. Findings
/// about it then name `defaults`, not the stage, so they are reported once (see `lint::dedup`).
fn inherited(stage: &Stage, span: Span) -> bool {
    span.start < stage.span.start || span.end > stage.span.end
}

pub(super) fn check(wf: &Workflow, unset: &Unset, diags: &mut Vec<Diagnostic>) {
    let src = &wf.source;
    for stage in &wf.stages {
        let s = &stage.settings;
        if let (Some(max), Some(total)) = (&s.consult.max, &wf.budget.consults)
            && max.value > total.value
        {
            let who = if inherited(stage, max.span) {
                "`defaults` allow".to_string()
            } else {
                format!("stage `{}` allows", stage.name.value)
            };
            diags.push(
                Diagnostic::new(
                    Rule::BudgetConflict,
                    src,
                    max.span,
                    format!(
                        "{who} {} consults per visit but the run may use only {}",
                        max.value, total.value
                    ),
                )
                .with_related(total.span, "the run's budget")
                .with_help("lower `consult max` or raise `budget consults`"),
            );
        }
        if let Some(t) = &s.topology
            && t.value == Topology::Independent
        {
            diags.push(
                Diagnostic::new(
                    Rule::RiskyTopology,
                    src,
                    t.span,
                    "topology `independent` amplifies errors 17.2x (Kim et al. 2025)",
                )
                .with_help("prefer `centralized`: one checker verifies each answer (4.4x)"),
            );
        }
        if let Some(e) = s.consult.ensemble.as_ref().filter(|e| e.value)
            && stage.topology() == Topology::Sas
            && !unset.explains(Rule::RiskyTopology, stage)
        {
            let finding = if inherited(stage, e.span) {
                Diagnostic::new(
                    Rule::RiskyTopology,
                    src,
                    e.span,
                    "`defaults` allow an ensemble in single-agent (`sas`) stages",
                )
                .with_help("set `ensemble #false` in `defaults`, or choose topology `centralized` for the stages that ensemble")
            } else {
                Diagnostic::new(
                    Rule::RiskyTopology,
                    src,
                    e.span,
                    format!(
                        "stage `{}` is single-agent (`sas`) but allows an ensemble",
                        stage.name.value
                    ),
                )
                .with_help("set `ensemble #false`, or choose topology `centralized` for this stage")
            };
            diags.push(finding);
        }
        if let Some(v) = &s.vote {
            if let Some(p) = v.p.as_ref().filter(|p| p.value <= 0.5) {
                diags.push(
                    Diagnostic::new(Rule::VoteDiverges, src, p.span, format!("with p = {} a vote never converges: a wrong answer is as likely as the right one", p.value))
                        .with_help("voting needs per-step accuracy above 0.5; improve the step or choose another model"),
                );
            }
            if let Some(t) = v
                .target
                .as_ref()
                .filter(|t| t.value >= 1.0 || t.value <= 0.0)
            {
                diags.push(
                    Diagnostic::new(
                        Rule::VoteDiverges,
                        src,
                        t.span,
                        format!(
                            "target {} can never be met: it must be between 0 and 1",
                            t.value
                        ),
                    )
                    .with_help("use a target such as 0.95 or 0.99"),
                );
            }
        }
    }
    translations(wf, diags);
}

fn translations(wf: &Workflow, diags: &mut Vec<Diagnostic>) {
    // Each language once, in `lang` order (a repeated code is not a second language).
    let mut known = HashSet::new();
    let langs: Vec<&str> = wf
        .langs
        .iter()
        .map(|l| l.value.as_str())
        .filter(|l| known.insert(*l))
        .collect();
    if langs.len() < 2 {
        return;
    }
    let default = wf.default_lang();
    // The languages among `langs` that `covered` lacks: how many, and the first few by name.
    // Counted from what is there, so a long `lang` list costs nothing per text.
    let lacking = |covered: &HashSet<&str>| -> (usize, Vec<&str>) {
        let present = covered.iter().filter(|l| known.contains(*l)).count();
        let first = langs
            .iter()
            .copied()
            .filter(|l| !covered.contains(l))
            .take(SHOWN)
            .collect();
        (langs.len() - present, first)
    };
    // One finding per text, naming the languages it lacks: a long `lang` list times many texts
    // must not multiply into millions of findings.
    let missing = |texts: &Texts, what: String, diags: &mut Vec<Diagnostic>| {
        let mut covered: HashSet<&str> = texts.by_lang.iter().map(|(l, _)| l.as_str()).collect();
        if texts.default.is_some() {
            covered.insert(default);
        }
        let (count, first) = lacking(&covered);
        let Some(one) = first.first() else {
            return;
        };
        let example = if *one == default {
            "\"...\"".to_string()
        } else {
            format!("{one}=\"...\"")
        };
        diags.push(
            Diagnostic::new(
                Rule::MissingTranslation,
                &wf.source,
                texts.span,
                format!("{what} has no {} text", list(&first, count)),
            )
            .with_help(format!(
                "add {example}; `lang` lists {}",
                list(&first, count)
            )),
        );
    };
    for stage in &wf.stages {
        if let Some(title) = &stage.title {
            missing(
                title,
                format!("the title of stage `{}`", stage.name.value),
                diags,
            );
        }
        let Some(gate) = &stage.settings.gate else {
            continue;
        };
        for q in &gate.questions {
            missing(&q.text, format!("question `{}`", q.id.value), diags);
            if q.options.is_empty() {
                continue;
            }
            // The untranslated options serve the default language.
            let mut covered: HashSet<&str> =
                q.options.iter().filter_map(|(l, _)| l.as_deref()).collect();
            covered.insert(default);
            let (count, first) = lacking(&covered);
            if let Some(one) = first.first() {
                diags.push(
                    Diagnostic::new(
                        Rule::MissingTranslation,
                        &wf.source,
                        q.span,
                        format!(
                            "the options of question `{}` have no {} version",
                            q.id.value,
                            list(&first, count)
                        ),
                    )
                    .with_help(format!("add `options \"...\" lang=\"{one}\"`")),
                );
            }
        }
    }
}

/// How many missing languages a finding names.
const SHOWN: usize = 6;

/// "`ko`", "`ko` and `ja`", "`ko`, `ja` and `fr`"; past [`SHOWN`], "... and 3 more".
fn list(first: &[&str], count: usize) -> String {
    let named: Vec<String> = first.iter().map(|l| format!("`{l}`")).collect();
    match named.split_last() {
        None => String::new(),
        Some((last, [])) if count == 1 => last.clone(),
        Some((last, rest)) if count == named.len() => format!("{} and {last}", rest.join(", ")),
        Some(_) => format!("{} and {} more", named.join(", "), count - named.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn languages_are_listed_then_counted() {
        assert_eq!(list(&["ko"], 1), "`ko`");
        assert_eq!(list(&["ko", "ja"], 2), "`ko` and `ja`");
        assert_eq!(list(&["ko", "ja", "fr"], 3), "`ko`, `ja` and `fr`");
        let six = ["a", "b", "c", "d", "e", "f"];
        assert_eq!(list(&six, 9), "`a`, `b`, `c`, `d`, `e`, `f` and 3 more");
    }
}
