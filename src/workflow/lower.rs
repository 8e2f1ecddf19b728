//! Checked syntax tree → typed [`Workflow`]. Reads only values that passed the shape check,
//! and merges `defaults` into each stage (a stage's own value wins, property by property).

use std::sync::Arc;

use super::{
    Budget, Consult, ContextLimits, Edge, Gate, GateBy, OnTimeout, Policy, Preset, Priority,
    Question, RedFlags, Settings, Stage, Texts, Topology, Vote, Workflow,
};
use crate::source::SourceFile;
use crate::syntax::ast::{Format, Node, Spanned, Value};
use crate::syntax::keys::{self, Spec, Ty};
use crate::syntax::shape::value_problem;

/// Lowers the `workflow` node of a checked tree.
#[must_use]
pub(crate) fn lower(root: &Node, source: &Arc<SourceFile>, format: Format) -> Workflow {
    let name =
        str_arg(root, Ty::Name).unwrap_or_else(|| Spanned::new(String::new(), root.name.span));
    let mut wf = Workflow {
        source: Arc::clone(source),
        format,
        name,
        version: root.child("version").and_then(int_arg).map(|v| v.value),
        summary: root.child("summary").map(texts),
        start: root.child("start").and_then(|n| str_arg(n, Ty::Name)),
        langs: root
            .child("lang")
            .map(|n| str_args(n, Ty::Lang))
            .unwrap_or_default(),
        budget: root.child("budget").map(budget).unwrap_or_default(),
        policy: root.child("policy").map(policy).unwrap_or_default(),
        stages: Vec::new(),
        ends: Vec::new(),
        span: root.span,
    };
    let defaults = root.child("defaults").map(settings).unwrap_or_default();
    for child in &root.children {
        match child.name.value.as_str() {
            "stage" => {
                if let Some(name) = str_arg(child, Ty::Str) {
                    let mut s = settings(child);
                    merge(&mut s, &defaults);
                    let next: Vec<Edge> = child.children_named("next").filter_map(edge).collect();
                    let invalid_next = child.children_named("next").count() - next.len();
                    wf.stages.push(Stage {
                        name,
                        title: child.child("title").map(texts),
                        settings: s,
                        next,
                        invalid_next,
                        span: child.span,
                    });
                }
            }
            "end" => wf.ends.extend(str_arg(child, Ty::Str)),
            _ => {}
        }
    }
    wf
}

fn valid(v: &Spanned<Value>, ty: Ty) -> Option<&Spanned<Value>> {
    value_problem(&v.value, ty).is_none().then_some(v)
}

fn str_arg(node: &Node, ty: Ty) -> Option<Spanned<String>> {
    let v = node.arg(0)?;
    let s = v.value.as_str()?;
    // Names that break the naming rule are still lowered (a finding already says so), so
    // that references to them do not cascade into "unknown stage" findings.
    if ty != Ty::Name && ty != Ty::Str {
        valid(v, ty)?;
    }
    Some(Spanned::new(s.to_string(), v.span))
}

fn str_args(node: &Node, ty: Ty) -> Vec<Spanned<String>> {
    node.args()
        .filter_map(|v| valid(v, ty))
        .filter_map(|v| {
            v.value
                .as_str()
                .map(|s| Spanned::new(s.to_string(), v.span))
        })
        .collect()
}

fn int_arg(node: &Node) -> Option<Spanned<i128>> {
    match node.arg(0) {
        Some(Spanned {
            value: Value::Int(i),
            span,
        }) => Some(Spanned::new(*i, *span)),
        _ => None,
    }
}

fn prop_of<'a>(node: &'a Node, spec: &'static Spec, key: &str) -> Option<&'a Spanned<Value>> {
    let ty = spec.prop(key)?.ty;
    node.prop(key).and_then(|v| valid(v, ty))
}

fn prop_u64(node: &Node, spec: &'static Spec, key: &str) -> Option<u64> {
    match prop_of(node, spec, key)?.value {
        Value::Int(i) => u64::try_from(i).ok(),
        _ => None,
    }
}

fn prop_u32(node: &Node, spec: &'static Spec, key: &str) -> Option<Spanned<u32>> {
    let v = prop_of(node, spec, key)?;
    match v.value {
        Value::Int(i) => u32::try_from(i).ok().map(|n| Spanned::new(n, v.span)),
        _ => None,
    }
}

fn prop_f64(node: &Node, spec: &'static Spec, key: &str) -> Option<Spanned<f64>> {
    let v = prop_of(node, spec, key)?;
    v.value.as_f64().map(|f| Spanned::new(f, v.span))
}

fn prop_bool(node: &Node, spec: &'static Spec, key: &str) -> Option<bool> {
    match prop_of(node, spec, key)?.value {
        Value::Bool(b) => Some(b),
        _ => None,
    }
}

fn prop_str(node: &Node, spec: &'static Spec, key: &str) -> Option<Spanned<String>> {
    let v = prop_of(node, spec, key)?;
    v.value
        .as_str()
        .map(|s| Spanned::new(s.to_string(), v.span))
}

fn texts(node: &Node) -> Texts {
    Texts {
        default: node.arg(0).and_then(|v| {
            v.value
                .as_str()
                .map(|s| Spanned::new(s.to_string(), v.span))
        }),
        by_lang: node
            .props()
            .filter(|(k, _)| keys::is_lang_code(&k.value))
            .filter_map(|(k, v)| {
                v.value
                    .as_str()
                    .map(|s| (k.value.clone(), Spanned::new(s.to_string(), v.span)))
            })
            .collect(),
        span: node.span,
    }
}

fn budget(node: &Node) -> Budget {
    let s = &keys::BUDGET;
    Budget {
        consults: prop_u32(node, s, "consults"),
        wall_secs: prop_str(node, s, "wall").and_then(|d| keys::parse_duration(&d.value)),
        tokens: prop_u64(node, s, "tokens"),
        cost_usd: prop_f64(node, s, "cost-usd").map(|v| v.value),
        span: Some(node.span),
    }
}

fn policy(node: &Node) -> Policy {
    let s = &keys::POLICY;
    let d = Policy::default();
    let preset = prop_str(node, s, "preset")
        .and_then(|p| Preset::parse(&p.value))
        .unwrap_or_default();
    Policy {
        capability_threshold: prop_f64(node, s, "capability-threshold")
            .map_or(d.capability_threshold, |v| v.value),
        max_agents: prop_u32(node, s, "max-agents").map_or(preset.limits().max_agents, |v| v.value),
        preset,
    }
}

fn settings(node: &Node) -> Settings {
    let name = |n: &str| node.child(n).and_then(|c| str_arg(c, Ty::Name));
    Settings {
        role: name("role"),
        skill: name("skill"),
        report: name("report"),
        output: name("output"),
        topology: node.child("topology").and_then(|c| {
            let v = c.arg(0)?;
            Topology::parse(v.value.as_str()?).map(|t| Spanned::new(t, v.span))
        }),
        max_visits: node.child("max-visits").and_then(|c| {
            let v = c.arg(0)?;
            valid(
                v,
                Ty::Int {
                    min: 1,
                    max: i128::from(u32::MAX),
                },
            )?;
            match v.value {
                Value::Int(i) => u32::try_from(i).ok().map(|n| Spanned::new(n, v.span)),
                _ => None,
            }
        }),
        wall_secs: node.child("wall").and_then(|c| {
            let v = c.arg(0)?;
            let secs = keys::parse_duration(valid(v, Ty::Duration)?.value.as_str()?)?;
            Some(Spanned::new(secs, v.span))
        }),
        consult: node.child("consult").map(consult).unwrap_or_default(),
        context: node.child("context").map(context).unwrap_or_default(),
        red_flags: node.child("red-flags").map(red_flags).unwrap_or_default(),
        vote: node.child("vote").map(vote),
        gate: node.child("gate").map(gate),
        edits: node.child("edits").and_then(bool_arg),
    }
}

/// A node's one boolean argument (`ensemble #true`, `edits #false`).
fn bool_arg(node: &Node) -> Option<Spanned<bool>> {
    match node.arg(0) {
        Some(Spanned {
            value: Value::Bool(b),
            span,
        }) => Some(Spanned::new(*b, *span)),
        _ => None,
    }
}

fn consult(node: &Node) -> Consult {
    Consult {
        max: prop_u32(node, &keys::CONSULT, "max"),
        context_chars: prop_u32(node, &keys::CONSULT, "context-chars"),
        from_visit: prop_u32(node, &keys::CONSULT, "from-visit"),
        prefer: node
            .child("prefer")
            .map(|p| str_args(p, Ty::Str))
            .unwrap_or_default(),
        ensemble: node.child("ensemble").and_then(bool_arg),
        span: Some(node.span),
    }
}

fn context(node: &Node) -> ContextLimits {
    let s = &keys::CONTEXT;
    ContextLimits {
        files: prop_u32(node, s, "files").map(|v| v.value),
        lines: prop_u32(node, s, "lines").map(|v| v.value),
        error_lines: prop_u32(node, s, "error-lines").map(|v| v.value),
        chars: prop_u32(node, s, "chars"),
        span: Some(node.span),
    }
}

fn red_flags(node: &Node) -> RedFlags {
    let s = &keys::RED_FLAGS;
    let schema = prop_str(node, s, "schema");
    RedFlags {
        max_chars: prop_u64(node, s, "max-chars"),
        min_chars: prop_u64(node, s, "min-chars"),
        max_tokens: prop_u64(node, s, "max-tokens"),
        hedging: prop_bool(node, s, "hedging"),
        format: prop_str(node, s, "format").map(|v| v.value),
        schema_span: schema.as_ref().map(|v| v.span),
        schema: schema.map(|v| v.value),
        dangerous_commands: prop_bool(node, s, "dangerous-commands"),
        dangerous_code: prop_bool(node, s, "dangerous-code"),
        forbidden_files: prop_bool(node, s, "forbidden-files"),
        max_files: prop_u64(node, s, "max-files"),
        span: Some(node.span),
    }
}

fn vote(node: &Node) -> Vote {
    let s = &keys::VOTE;
    Vote {
        k: prop_u32(node, s, "k").map(|v| v.value),
        max_samples: prop_u32(node, s, "max-samples").map(|v| v.value),
        target: prop_f64(node, s, "target"),
        p: prop_f64(node, s, "p"),
        steps: prop_u32(node, s, "steps").map(|v| v.value),
        span: node.span,
    }
}

fn gate(node: &Node) -> Gate {
    let by = node
        .child("by")
        .and_then(|b| b.arg(0))
        .and_then(|v| v.value.as_str())
        .and_then(GateBy::parse)
        .unwrap_or(GateBy::Human);
    let timeout = node.child("timeout");
    Gate {
        by,
        timeout_secs: timeout
            .and_then(|t| t.arg(0))
            .and_then(|v| v.value.as_str())
            .and_then(keys::parse_duration),
        on_timeout: timeout
            .and_then(|t| prop_str(t, &keys::TIMEOUT, "on-timeout"))
            .and_then(|v| OnTimeout::parse(&v.value)),
        questions: node
            .children_named("question")
            .filter_map(question)
            .collect(),
        span: node.span,
    }
}

fn question(node: &Node) -> Option<Question> {
    let id = str_arg(node, Ty::Str)?;
    Some(Question {
        id,
        priority: prop_str(node, &keys::QUESTION, "priority")
            .and_then(|p| Priority::parse(&p.value))
            .unwrap_or(Priority::Medium),
        text: node.child("text").map(texts).unwrap_or_default(),
        options: node
            .children_named("options")
            .map(|o| {
                let lang = prop_str(o, &keys::OPTIONS, "lang").map(|l| l.value);
                let opts = o
                    .args()
                    .filter_map(|v| v.value.as_str().map(str::to_string))
                    .collect();
                (lang, opts)
            })
            .collect(),
        span: node.span,
    })
}

fn edge(node: &Node) -> Option<Edge> {
    Some(Edge {
        to: str_arg(node, Ty::Str)?,
        on: prop_str(node, &keys::NEXT, "on"),
        when: prop_str(node, &keys::NEXT, "when"),
        span: node.span,
    })
}

/// Fills what the stage leaves unset from `defaults`.
fn merge(stage: &mut Settings, d: &Settings) {
    #[allow(
        clippy::ref_option,
        reason = "called on ~35 field pairs, where `&d.x` reads plainer than `d.x.as_ref()`"
    )]
    fn or<T: Clone>(a: &mut Option<T>, b: &Option<T>) {
        if a.is_none() {
            a.clone_from(b);
        }
    }
    or(&mut stage.role, &d.role);
    or(&mut stage.skill, &d.skill);
    or(&mut stage.report, &d.report);
    or(&mut stage.output, &d.output);
    or(&mut stage.topology, &d.topology);
    or(&mut stage.max_visits, &d.max_visits);
    or(&mut stage.wall_secs, &d.wall_secs);
    let (c, dc) = (&mut stage.context, &d.context);
    or(&mut c.files, &dc.files);
    or(&mut c.lines, &dc.lines);
    or(&mut c.error_lines, &dc.error_lines);
    or(&mut c.chars, &dc.chars);
    or(&mut c.span, &dc.span);
    or(&mut stage.gate, &d.gate);
    or(&mut stage.edits, &d.edits);
    or(&mut stage.consult.max, &d.consult.max);
    or(&mut stage.consult.context_chars, &d.consult.context_chars);
    or(&mut stage.consult.from_visit, &d.consult.from_visit);
    or(&mut stage.consult.ensemble, &d.consult.ensemble);
    or(&mut stage.consult.span, &d.consult.span);
    if stage.consult.prefer.is_empty() {
        stage.consult.prefer.clone_from(&d.consult.prefer);
    }
    let (r, dr) = (&mut stage.red_flags, &d.red_flags);
    or(&mut r.max_chars, &dr.max_chars);
    or(&mut r.min_chars, &dr.min_chars);
    or(&mut r.max_tokens, &dr.max_tokens);
    or(&mut r.hedging, &dr.hedging);
    or(&mut r.format, &dr.format);
    or(&mut r.schema_span, &dr.schema_span);
    or(&mut r.schema, &dr.schema);
    or(&mut r.dangerous_commands, &dr.dangerous_commands);
    or(&mut r.dangerous_code, &dr.dangerous_code);
    or(&mut r.forbidden_files, &dr.forbidden_files);
    or(&mut r.max_files, &dr.max_files);
    or(&mut r.span, &dr.span);
    match (&mut stage.vote, &d.vote) {
        (None, Some(dv)) => stage.vote = Some(dv.clone()),
        (Some(v), Some(dv)) => {
            or(&mut v.k, &dv.k);
            or(&mut v.max_samples, &dv.max_samples);
            or(&mut v.target, &dv.target);
            or(&mut v.p, &dv.p);
            or(&mut v.steps, &dv.steps);
        }
        _ => {}
    }
}
