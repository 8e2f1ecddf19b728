//! The rule table: whether a difference between two versions loosens the person's control.
//!
//! Rules are looked up by the difference's shape (`stages[*].consult.from-visit`). The table
//! is an allow-list in both directions: only the shapes listed under wording may be called
//! wording, and a shape the table does not know is "changes control; review", never harmless.
//! A whole block added or removed (`consult`, `red-flags`) is judged by what it held when the
//! block itself has no rule, the strictest verdict winning.

use serde_json::Value;

use super::Effect;
use super::tree::{Node, Seg, shape};
use crate::workflow::{GateBy, Preset, Priority};

/// An effect and the reason a person reads beside it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Verdict {
    pub(super) effect: Effect,
    pub(super) why: String,
}

fn v(effect: Effect, why: impl Into<String>) -> Verdict {
    Verdict {
        effect,
        why: why.into(),
    }
}

/// Both versions' trees, for rules whose meaning depends on a neighbour (a timeout on what
/// `on-timeout` says, `context chars` on its older spelling).
pub(super) struct Sides<'a> {
    pub(super) before: &'a Node,
    pub(super) after: &'a Node,
}

/// Human-facing text only. Shapes below these are wording; nothing else is.
const WORDING: &[&str] = &[
    "summary",
    "langs",
    "stages[*].title",
    "stages[*].gate.questions[*].text",
    "stages[*].gate.questions.order",
];

/// Fields that name the item they sit in: they change only together with it.
const IDENTITY: &[&str] = &[
    "name",
    "stages[*].name",
    "stages[*].gate.questions[*].id",
    "stages[*].next[*].to",
    "stages[*].next[*].on",
];

/// Why a setting the table does not know is shown for review.
pub(super) const NO_RULE: &str =
    "maestro has no rule for this setting, so it cannot tell whether this loosens control";

/// The verdict on one difference (`before`/`after` absent when added/removed).
pub(super) fn judge(
    sides: &Sides<'_>,
    path: &[Seg],
    before: Option<&Node>,
    after: Option<&Node>,
) -> Verdict {
    if let Some(verdict) = rule(sides, path, before, after) {
        return verdict;
    }
    // No rule for this block: judge what it held, as if each part were added or removed.
    let (parts, added) = match (before, after) {
        (Some(Node::Map(m)), None) => (m, false),
        (None, Some(Node::Map(m))) => (m, true),
        _ => return v(Effect::Review, NO_RULE),
    };
    let verdicts: Vec<Verdict> = parts
        .iter()
        .map(|(seg, node)| {
            let mut p = path.to_vec();
            p.push(seg.clone());
            if added {
                judge(sides, &p, None, Some(node))
            } else {
                judge(sides, &p, Some(node), None)
            }
        })
        .collect();
    strictest(verdicts)
}

/// The strictest of several verdicts, with every distinct reason for it.
fn strictest(verdicts: Vec<Verdict>) -> Verdict {
    let effect = verdicts
        .iter()
        .map(|v| v.effect)
        .max()
        .unwrap_or(Effect::Wording);
    let mut whys: Vec<String> = Vec::new();
    for v in verdicts.into_iter().filter(|v| v.effect == effect) {
        if !whys.contains(&v.why) {
            whys.push(v.why);
        }
    }
    v(effect, whys.join("; "))
}

fn under(shape: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        shape
            .strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "the table reads best as one match: one arm per setting"
)]
fn rule(sides: &Sides<'_>, path: &[Seg], a: Option<&Node>, b: Option<&Node>) -> Option<Verdict> {
    let shape = shape(path);
    if under(&shape, WORDING) {
        return Some(v(Effect::Wording, "wording"));
    }
    if IDENTITY.contains(&shape.as_str()) {
        return Some(v(Effect::Neutral, "the name of the item"));
    }
    if under(&shape, &["stages[*].gate.questions[*].options"]) {
        return Some(v(
            Effect::Review,
            "the answers a person may give changed (a critical question's answer decides approval)",
        ));
    }
    let (x, y) = (a.and_then(Node::leaf), b.and_then(Node::leaf));
    Some(match shape.as_str() {
        "budget.consults" => ceiling(x, y, "consults per run"),
        "budget.wall-secs" => ceiling(x, y, "the run's working time"),
        "budget.tokens" => ceiling(x, y, "tokens per run"),
        "budget.cost-usd" => ceiling(x, y, "cost per run"),
        "policy.max-agents" => ceiling(x, y, "agents per round"),
        "policy.capability-threshold" => ceiling(
            x,
            y,
            "the capability above which one agent works alone (higher: more multi-agent rounds)",
        ),
        "policy.preset" => preset(x, y),
        "stages[*].max-visits" => ceiling(x, y, "visits to the stage"),
        "stages[*].wall-secs" => ceiling(x, y, "the stage's working time"),
        "stages[*].consult.max" => ceiling(x, y, "consults per visit"),
        "stages[*].consult.context-chars" | "stages[*].context.chars" => {
            context_chars(sides, path, x, y)
        }
        "stages[*].context.files" => ceiling(x, y, "files in the context"),
        "stages[*].context.lines" => ceiling(x, y, "lines per file in the context"),
        "stages[*].context.error-lines" => ceiling(x, y, "error lines in the context"),
        "stages[*].consult.from-visit" => floor(
            x,
            y,
            Some(1.0),
            "the first visit that may consult (unset: the first)",
        ),
        "stages[*].consult.ensemble" => switch(
            x,
            y,
            false,
            true,
            "consults fan out to several providers (ensemble)",
        ),
        "stages[*].consult.prefer" => v(
            Effect::Review,
            "other providers are asked: the stage's work may go to another vendor",
        ),
        "stages[*].red-flags.max-chars" => ceiling(x, y, "the longest answer kept"),
        "stages[*].red-flags.max-tokens" => ceiling(x, y, "the most tokens an answer may have"),
        "stages[*].red-flags.max-files" => ceiling(x, y, "files per diff"),
        "stages[*].red-flags.min-chars" => floor(x, y, None, "the shortest answer kept"),
        "stages[*].red-flags.hedging" => check(x, y, "hedging answers are discarded"),
        "stages[*].red-flags.dangerous-commands" => {
            check(x, y, "answers with dangerous commands are discarded")
        }
        "stages[*].red-flags.dangerous-code" => {
            check(x, y, "answers with dangerous code are discarded")
        }
        "stages[*].red-flags.forbidden-files" => {
            check(x, y, "answers touching forbidden files are discarded")
        }
        "stages[*].red-flags.format" => requirement(x, y, "the answer format is checked"),
        "stages[*].red-flags.schema" => requirement(x, y, "answers are checked against a schema"),
        "stages[*].output" => requirement(x, y, "the stage's output is checked against a schema"),
        "stages[*].vote.k" => floor(x, y, None, "the votes the winner must lead by"),
        "stages[*].vote.target" => floor(x, y, None, "the target success rate of a vote"),
        "stages[*].vote.max-samples" => ceiling(x, y, "samples per vote"),
        // The margin derived from a target grows with `steps` and shrinks as `p` grows.
        "stages[*].vote.p" => ceiling(
            x,
            y,
            "the success rate assumed of one sample (higher: a smaller margin)",
        ),
        "stages[*].vote.steps" => floor(x, y, None, "the steps a vote's margin is sized for"),
        "stages[*].edits" => switch(
            x,
            y,
            true,
            true,
            "Claude Code may edit files in the stage (unset: it may)",
        ),
        "stages[*].gate" => match (a, b) {
            (Some(_), None) => v(
                Effect::Loosens,
                "gate removed: the stage no longer waits for a decision",
            ),
            (None, Some(_)) => v(
                Effect::Tightens,
                "a gate added: the stage waits for a decision",
            ),
            _ => return None,
        },
        "stages[*].gate.by" => gate_by(x, y),
        "stages[*].gate.timeout-secs" | "stages[*].gate.on-timeout" => timeout(sides, path),
        "stages[*].gate.questions[*]" => match (a, b) {
            (Some(_), None) => v(
                Effect::Loosens,
                "a question removed: the person is no longer asked it",
            ),
            (None, Some(_)) => v(Effect::Tightens, "a question added"),
            _ => return None,
        },
        "stages[*].gate.questions[*].priority" => priority(x, y),
        "stages[*]" => match (a, b) {
            (Some(old), None) if old.get(&[Seg::Field("gate".into())]).is_some() => v(
                Effect::Loosens,
                "a stage with a gate removed: its decision is no longer asked for",
            ),
            (Some(_), None) => v(Effect::Review, "a stage removed"),
            (None, Some(_)) => v(
                Effect::Review,
                "a new stage: read its settings and where it leads",
            ),
            _ => return None,
        },
        "stages.order" => v(Effect::Neutral, "the order the stages are written in"),
        "stages[*].next.order" => edge_order(x, y),
        "stages[*].next[*]" => v(
            Effect::Review,
            "where the run can go changed (a skipped gate is listed separately)",
        ),
        "stages[*].next[*].when" => match (x, y) {
            (Some(_), None) => v(
                Effect::Loosens,
                "the guard is gone: the transition no longer waits for its condition",
            ),
            (None, Some(_)) => v(Effect::Tightens, "a guard added to the transition"),
            _ => v(Effect::Review, "the transition's condition changed"),
        },
        "stages[*].role" => v(
            Effect::Review,
            "the stage's instructions come from another role",
        ),
        "stages[*].skill" => v(
            Effect::Review,
            "the stage's method comes from another skill",
        ),
        "stages[*].report" => v(
            Effect::Review,
            "the person reads another report at the gate",
        ),
        "stages[*].topology" => v(Effect::Review, "the stage coordinates agents differently"),
        "start" => v(Effect::Review, "runs start elsewhere"),
        "version" => v(Effect::Review, "another version of the workflow language"),
        "stages[*].invalid-next" => v(Effect::Review, "transitions without a usable target"),
        "ends" => v(Effect::Review, "the ends a run can reach changed"),
        "assets[*]" => v(
            Effect::Review,
            match (a, b) {
                (None, _) => "the version now reads this file: read what it says",
                (_, None) => "the version no longer reads this file",
                _ => "the file's text changed: the instructions or checks it holds may differ",
            },
        ),
        _ => return None,
    })
}

/// Edges are tried in file order, so moving one ahead of another changes which one wins;
/// an order that only gained or lost edges is listed by those edges.
fn edge_order(a: Option<&Value>, b: Option<&Value>) -> Verdict {
    let keys = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (x, y) = (keys(a), keys(b));
    let common_x: Vec<&String> = x.iter().filter(|k| y.contains(k)).collect();
    let common_y: Vec<&String> = y.iter().filter(|k| x.contains(k)).collect();
    if common_x == common_y {
        v(
            Effect::Neutral,
            "transitions added or removed (each is listed); the others keep their order",
        )
    } else {
        v(
            Effect::Review,
            "transitions are tried in file order: another one may now win",
        )
    }
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// A limit where more is looser and unset is no limit.
fn ceiling(a: Option<&Value>, b: Option<&Value>, what: &str) -> Verdict {
    match (num(a), num(b)) {
        (Some(x), Some(y)) if y > x => v(Effect::Loosens, format!("raised: {what}")),
        (Some(x), Some(y)) if y < x => v(Effect::Tightens, format!("lowered: {what}")),
        (Some(_), None) => v(Effect::Loosens, format!("limit removed: {what}")),
        (None, Some(_)) => v(Effect::Tightens, format!("limit added: {what}")),
        _ => v(
            Effect::Review,
            format!("{what}: not a number maestro can compare"),
        ),
    }
}

/// A bound where less is looser; `unset` is what applies without one (`None`: no bound).
fn floor(a: Option<&Value>, b: Option<&Value>, unset: Option<f64>, what: &str) -> Verdict {
    let (x, y) = (num(a).or(unset), num(b).or(unset));
    match (x, y) {
        (Some(x), Some(y)) if y < x => v(Effect::Loosens, format!("lowered: {what}")),
        (Some(x), Some(y)) if y > x => v(Effect::Tightens, format!("raised: {what}")),
        (Some(_), Some(_)) => v(Effect::Neutral, format!("the same in effect: {what}")),
        (Some(_), None) => v(Effect::Loosens, format!("bound removed: {what}")),
        (None, Some(_)) => v(Effect::Tightens, format!("bound added: {what}")),
        (None, None) => v(
            Effect::Review,
            format!("{what}: not a number maestro can compare"),
        ),
    }
}

/// A yes/no setting; `loose` is the value that gives the person less control.
fn switch(a: Option<&Value>, b: Option<&Value>, unset: bool, loose: bool, what: &str) -> Verdict {
    let x = a.and_then(Value::as_bool).unwrap_or(unset);
    let y = b.and_then(Value::as_bool).unwrap_or(unset);
    if x == y {
        v(Effect::Neutral, format!("the same in effect: {what}"))
    } else if y == loose {
        v(Effect::Loosens, format!("now {what}"))
    } else {
        v(Effect::Tightens, format!("no longer {what}"))
    }
}

/// A red-flag check that is on when `#true` and off when unset.
fn check(a: Option<&Value>, b: Option<&Value>, what: &str) -> Verdict {
    let on = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(false);
    match (on(a), on(b)) {
        (true, false) => v(Effect::Loosens, format!("check dropped: {what}")),
        (false, true) => v(Effect::Tightens, format!("check added: {what}")),
        _ => v(Effect::Neutral, format!("the same in effect: {what}")),
    }
}

/// A named requirement (a schema, a format): dropping it loosens, another one needs reading.
fn requirement(a: Option<&Value>, b: Option<&Value>, what: &str) -> Verdict {
    match (a, b) {
        (Some(_), None) => v(Effect::Loosens, format!("no longer: {what}")),
        (None, Some(_)) => v(Effect::Tightens, format!("now: {what}")),
        _ => v(Effect::Review, format!("changed: {what}")),
    }
}

fn gate_by(a: Option<&Value>, b: Option<&Value>) -> Verdict {
    let by = |v: Option<&Value>| v.and_then(Value::as_str).and_then(GateBy::parse);
    match (by(a), by(b)) {
        (Some(GateBy::Human), Some(GateBy::Any)) => v(
            Effect::Loosens,
            "the orchestrating model may now relay the decision instead of a person",
        ),
        (Some(GateBy::Any), Some(GateBy::Human)) => v(Effect::Tightens, "only a person decides"),
        _ => v(Effect::Review, "who decides at the gate changed"),
    }
}

fn priority(a: Option<&Value>, b: Option<&Value>) -> Verdict {
    let p = |v: Option<&Value>| v.and_then(Value::as_str).and_then(Priority::parse);
    match (p(a), p(b)) {
        (Some(Priority::Critical), Some(_)) => v(
            Effect::Loosens,
            "no longer critical: approving no longer needs its answer",
        ),
        (Some(_), Some(Priority::Critical)) => {
            v(Effect::Tightens, "now critical: approving needs its answer")
        }
        (Some(_), Some(_)) => v(
            Effect::Neutral,
            "only critical questions hold an approval; this one is not",
        ),
        _ => v(Effect::Review, "the question's priority changed"),
    }
}

fn preset(a: Option<&Value>, b: Option<&Value>) -> Verdict {
    let parse = |v: Option<&Value>| v.and_then(Value::as_str).and_then(Preset::parse);
    let (Some(old), Some(new)) = (parse(a), parse(b)) else {
        return v(Effect::Review, "the coordination preset changed");
    };
    let (old, new) = (old.limits(), new.limits());
    let moves = [
        new.max_agents.partial_cmp(&old.max_agents),
        new.max_rounds.partial_cmp(&old.max_rounds),
        new.max_tokens.partial_cmp(&old.max_tokens),
        new.max_overhead.partial_cmp(&old.max_overhead),
    ];
    if moves.contains(&Some(std::cmp::Ordering::Greater)) {
        v(
            Effect::Loosens,
            "a preset with more agents, rounds, tokens or overhead",
        )
    } else if moves.contains(&Some(std::cmp::Ordering::Less)) {
        v(
            Effect::Tightens,
            "a preset with fewer agents, rounds or tokens",
        )
    } else {
        v(Effect::Neutral, "a preset with the same limits")
    }
}

/// The path of a setting of the same stage.
fn sibling(path: &[Seg], rest: &[&str]) -> Vec<Seg> {
    let mut p: Vec<Seg> = path.iter().take(2).cloned().collect();
    p.extend(rest.iter().map(|s| Seg::Field((*s).into())));
    p
}

fn leaf_at<'a>(tree: &'a Node, path: &[Seg]) -> Option<&'a Value> {
    tree.get(path).and_then(Node::leaf)
}

/// `context chars` wins over the older `consult context-chars`: judged on the value in effect,
/// so moving a limit from one spelling to the other changes nothing.
fn context_chars(sides: &Sides<'_>, path: &[Seg], a: Option<&Value>, b: Option<&Value>) -> Verdict {
    let effective = |tree: &Node| {
        leaf_at(tree, &sibling(path, &["context", "chars"]))
            .or_else(|| leaf_at(tree, &sibling(path, &["consult", "context-chars"])))
            .and_then(Value::as_f64)
    };
    let (x, y) = (effective(sides.before), effective(sides.after));
    if x == y && (a.is_some() || b.is_some()) {
        return v(
            Effect::Neutral,
            "the same in effect: characters of context per consult",
        );
    }
    ceiling(
        x.map(Value::from).as_ref(),
        y.map(Value::from).as_ref(),
        "characters of context per consult (unset: the packing default)",
    )
}

/// A gate's timeout, judged on what it does: approving by itself is the loosest.
fn timeout(sides: &Sides<'_>, path: &[Seg]) -> Verdict {
    // The seconds after which the gate decides without anyone, and what it decides.
    let decides = |tree: &Node| {
        let secs = leaf_at(tree, &sibling(path, &["gate", "timeout-secs"]))?.as_f64()?;
        let on = leaf_at(tree, &sibling(path, &["gate", "on-timeout"]))
            .and_then(Value::as_str)
            // A timeout without `on-timeout` rejects (workflow-language.md).
            .unwrap_or("reject")
            .to_string();
        Some((secs, on))
    };
    let approves = |d: &Option<(f64, String)>| {
        d.as_ref()
            .filter(|(_, on)| on == "approve")
            .map(|(secs, _)| *secs)
    };
    let (x, y) = (decides(sides.before), decides(sides.after));
    match (approves(&x), approves(&y)) {
        (None, Some(_)) => v(
            Effect::Loosens,
            "the gate now approves by itself when its timeout passes",
        ),
        (Some(s), Some(t)) if t < s => v(Effect::Loosens, "the gate approves by itself sooner"),
        (Some(s), Some(t)) if t > s => v(Effect::Tightens, "the gate approves by itself later"),
        (Some(_), Some(_)) => v(Effect::Neutral, "the same in effect: the gate's timeout"),
        (Some(_), None) => v(Effect::Tightens, "the gate no longer approves by itself"),
        (None, None) => match y {
            Some((_, on)) if on == "revise" => v(
                Effect::Review,
                "when the timeout passes the stage goes back to the model without a person",
            ),
            _ => v(
                Effect::Neutral,
                "no timeout approves by itself (an unanswered gate rejects or keeps waiting)",
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_setting_without_a_rule_is_review_never_harmless() {
        let empty = Node::Map(std::collections::BTreeMap::new());
        let sides = Sides {
            before: &empty,
            after: &empty,
        };
        let path = [
            Seg::Field("stages".into()),
            Seg::Key("a".into()),
            Seg::Field("autopilot".into()),
        ];
        let leaf = Node::Leaf(json!(true));
        for (a, b) in [(None, Some(&leaf)), (Some(&leaf), None)] {
            assert_eq!(judge(&sides, &path, a, b).effect, Effect::Review);
        }
        // A whole unknown block is judged by its parts: still review.
        let block = Node::Map([(Seg::Field("mode".into()), leaf.clone())].into());
        assert_eq!(
            judge(&sides, &path, None, Some(&block)).effect,
            Effect::Review
        );
    }
}
