//! A difference as a person reads it: the setting as the language spells it, before and after
//! ("stage \`improve\`: wall \`30m\` → wall \`3h\`").

use serde_json::Value;

use super::tree::{Node, Seg};

/// Longest rendering of a whole block before it is cut.
const MAX_BLOCK: usize = 200;

pub(super) fn describe(path: &[Seg], before: Option<&Node>, after: Option<&Node>) -> String {
    if let [Seg::Field(assets), Seg::Key(file)] = path
        && assets == "assets"
    {
        let hash = |n: Option<&Node>| {
            n.and_then(Node::leaf)
                .and_then(Value::as_str)
                .map(|h| h.get(..8).unwrap_or(h).to_string())
                .unwrap_or_default()
        };
        return match (before, after) {
            (None, _) => format!("file `{file}` added (sha256 {})", hash(after)),
            (_, None) => format!("file `{file}` removed (was sha256 {})", hash(before)),
            _ => format!(
                "file `{file}` changed (sha256 {} → {})",
                hash(before),
                hash(after)
            ),
        };
    }
    let (place, rest) = match path {
        [Seg::Field(stages), Seg::Key(stage), rest @ ..] if stages == "stages" => {
            (Some(format!("stage `{stage}`")), rest)
        }
        _ => (None, path),
    };
    let name = setting(rest);
    let secs = is_secs(rest);
    let what = match (name.is_empty(), &place) {
        (true, Some(p)) => p.clone(),
        (false, Some(p)) => format!("{p}: {name}"),
        (_, None) => name.clone(),
    };
    match (before, after) {
        (None, Some(b)) => format!("{what} added {}", value(b, secs)),
        (Some(a), None) => format!("{what} removed (was {})", value(a, secs)),
        (Some(a), Some(b)) => format!("{what} {} → {name} {}", value(a, secs), value(b, secs)),
        (None, None) => what,
    }
}

/// `gate question `q1` priority`, `consult from-visit`, `wall`.
fn setting(path: &[Seg]) -> String {
    let mut words: Vec<String> = Vec::new();
    for (i, seg) in path.iter().enumerate() {
        match seg {
            // A text's parts (`title default`, `title by-lang ko`) read as the text itself.
            Seg::Field(f) if f == "default" || f == "by-lang" => {}
            Seg::Field(f) => {
                let f = f.strip_suffix("-secs").unwrap_or(f);
                // A list's items follow its name: `question `q1`` reads better than
                // `questions `q1``.
                let singular = match (f, path.get(i + 1)) {
                    ("questions", Some(Seg::Key(_))) => "question",
                    ("stages", Some(Seg::Key(_))) => "stage",
                    _ => f,
                };
                words.push(singular.to_string());
            }
            Seg::Key(k) => words.push(format!("`{k}`")),
            Seg::Index(n) => words.push(format!("#{}", n + 1)),
        }
    }
    words.join(" ")
}

/// Whether the setting at the end of `path` is a number of seconds.
fn is_secs(path: &[Seg]) -> bool {
    matches!(path.last(), Some(Seg::Field(f)) if f.ends_with("-secs"))
}

fn value(n: &Node, secs: bool) -> String {
    match n {
        Node::Leaf(v) => format!("`{}`", scalar(v, secs)),
        Node::Map(_) => {
            let mut parts = Vec::new();
            leaves(n, &mut Vec::new(), &mut parts);
            let text = parts.join(" ");
            if text.chars().count() > MAX_BLOCK {
                format!(
                    "{{ {}… }}",
                    text.chars().take(MAX_BLOCK).collect::<String>()
                )
            } else {
                format!("{{ {text} }}")
            }
        }
    }
}

fn leaves(n: &Node, path: &mut Vec<Seg>, out: &mut Vec<String>) {
    match n {
        Node::Leaf(v) => {
            let name = path
                .iter()
                .map(|s| match s {
                    Seg::Field(f) => f.strip_suffix("-secs").unwrap_or(f).to_string(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".");
            out.push(format!("{name}=`{}`", scalar(v, is_secs(path))));
        }
        Node::Map(m) => {
            for (seg, child) in m {
                path.push(seg.clone());
                leaves(child, path, out);
                path.pop();
            }
        }
    }
}

fn scalar(v: &Value, secs: bool) -> String {
    match v {
        Value::Bool(true) => "#true".into(),
        Value::Bool(false) => "#false".into(),
        Value::Number(n) if secs => n.as_u64().map_or_else(|| n.to_string(), duration),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| scalar(i, secs))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Seconds in the language's spelling: `30m`, `3h`, `90s`.
fn duration(secs: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs > 0 && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(s: &str) -> Seg {
        Seg::Field(s.into())
    }

    #[test]
    fn a_change_reads_as_the_setting_before_and_after() {
        let wall = [f("stages"), Seg::Key("improve".into()), f("wall-secs")];
        assert_eq!(
            describe(
                &wall,
                Some(&Node::Leaf(json!(1800))),
                Some(&Node::Leaf(json!(10800)))
            ),
            "stage `improve`: wall `30m` → wall `3h`"
        );
        let by = [f("stages"), Seg::Key("a".into()), f("gate"), f("by")];
        assert_eq!(
            describe(
                &by,
                Some(&Node::Leaf(json!("human"))),
                Some(&Node::Leaf(json!("any")))
            ),
            "stage `a`: gate by `human` → gate by `any`"
        );
        let edits = [f("stages"), Seg::Key("a".into()), f("edits")];
        assert_eq!(
            describe(&edits, Some(&Node::Leaf(json!(false))), None),
            "stage `a`: edits removed (was `#false`)"
        );
        assert_eq!(duration(90), "90s");
        assert_eq!(duration(86_400), "1d");
    }
}
