//! Coordination and language rules: `budget-conflict`, `risky-topology`, `vote-diverges`,
//! `missing-translation`.

use super::registry::Rule;
use crate::diagnostic::Diagnostic;
use crate::workflow::{Texts, Topology, Workflow};

pub(super) fn check(wf: &Workflow, diags: &mut Vec<Diagnostic>) {
    let src = &wf.source;
    for stage in &wf.stages {
        let s = &stage.settings;
        if let (Some(max), Some(total)) = (&s.consult.max, &wf.budget.consults)
            && max.value > total.value
        {
            diags.push(
                Diagnostic::new(
                    Rule::BudgetConflict,
                    src,
                    max.span,
                    format!(
                        "stage `{}` allows {} consults per visit but the run may use only {}",
                        stage.name.value, max.value, total.value
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
        {
            diags.push(
                Diagnostic::new(
                    Rule::RiskyTopology,
                    src,
                    e.span,
                    format!(
                        "stage `{}` is single-agent (`sas`) but allows an ensemble",
                        stage.name.value
                    ),
                )
                .with_help(
                    "set `ensemble #false`, or choose topology `centralized` for this stage",
                ),
            );
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
    if wf.langs.len() < 2 {
        return;
    }
    let default = wf.default_lang();
    let missing = |texts: &Texts, what: String, diags: &mut Vec<Diagnostic>| {
        for lang in &wf.langs {
            if texts.exact(&lang.value, default).is_none() {
                let example = if lang.value == default {
                    "\"...\"".to_string()
                } else {
                    format!("{}=\"...\"", lang.value)
                };
                diags.push(
                    Diagnostic::new(
                        Rule::MissingTranslation,
                        &wf.source,
                        texts.span,
                        format!("{what} has no `{}` text", lang.value),
                    )
                    .with_help(format!("add {example}; `lang` lists `{}`", lang.value)),
                );
            }
        }
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
            for lang in wf.langs.iter().filter(|l| l.value != default) {
                if !q
                    .options
                    .iter()
                    .any(|(l, _)| l.as_deref() == Some(lang.value.as_str()))
                {
                    diags.push(
                        Diagnostic::new(
                            Rule::MissingTranslation,
                            &wf.source,
                            q.span,
                            format!(
                                "the options of question `{}` have no `{}` version",
                                q.id.value, lang.value
                            ),
                        )
                        .with_help(format!("add `options \"...\" lang=\"{}\"`", lang.value)),
                    );
                }
            }
        }
    }
}
