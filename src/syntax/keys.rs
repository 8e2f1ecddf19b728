//! The known keys of the workflow language: which nodes exist, what arguments and properties
//! each takes, and which children it may hold. The YAML reader, the shape check and the
//! "did you mean" help all read this one table.

/// The type a value must have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Ty {
    /// Any string.
    Str,
    /// A name: `[a-z][a-z0-9_-]*`, at most 48 characters.
    Name,
    /// A language code such as `en` or `ko`.
    Lang,
    /// An integer in `min..=max`.
    Int {
        min: i128,
        max: i128,
    },
    /// A number (integer or float) in `min..=max`.
    Num {
        min: f64,
        max: f64,
    },
    Bool,
    /// `"90s"`, `"15m"`, `"2h"`, `"1d"`.
    Duration,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// A minijinja expression (`when`).
    Expr,
    /// An event name: `[a-z_]+`.
    Event,
}

impl Ty {
    #[must_use]
    pub(crate) fn describe(self) -> String {
        match self {
            Ty::Str | Ty::Expr => "a string".into(),
            Ty::Name => "a name like `analyze`".into(),
            Ty::Lang => "a language code like `en`".into(),
            Ty::Int { min, max } if max == i128::from(u32::MAX) => {
                format!("an integer of at least {min}")
            }
            Ty::Int { min, max } => format!("an integer from {min} to {max}"),
            Ty::Num { min, max } if max.is_infinite() => format!("a number of at least {min}"),
            Ty::Num { max, min } if min.is_infinite() => format!("a number of at most {max}"),
            Ty::Num { min, max } => format!("a number from {min} to {max}"),
            Ty::Bool => "#true or #false".into(),
            Ty::Duration => "a duration like \"90s\", \"15m\", \"2h\" or \"1d\"".into(),
            Ty::Enum(opts) => format!("one of {}", opts.join(", ")),
            Ty::Event => "an event name like `approved` ([a-z_]+)".into(),
        }
    }
}

/// How many arguments a node takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Args {
    None,
    /// Exactly one.
    One(Ty),
    /// Zero or one.
    Opt(Ty),
    /// One or more.
    Many(Ty),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Prop {
    pub name: &'static str,
    pub ty: Ty,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Child {
    pub spec: &'static Spec,
    /// May appear more than once.
    pub repeat: bool,
    pub required: bool,
}

/// The shape of one kind of node.
#[derive(Debug)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub args: Args,
    pub props: &'static [Prop],
    /// Properties named by language codes (`ko="..."`) are allowed: human-facing text.
    pub lang_props: bool,
    pub children: &'static [Child],
}

impl Spec {
    #[must_use]
    pub(crate) fn child(&self, name: &str) -> Option<&'static Child> {
        self.children.iter().find(|c| c.spec.name == name)
    }

    #[must_use]
    pub(crate) fn prop(&self, name: &str) -> Option<&'static Prop> {
        self.props.iter().find(|p| p.name == name)
    }
}

const fn leaf(name: &'static str, args: Args) -> Spec {
    Spec {
        name,
        args,
        props: &[],
        lang_props: false,
        children: &[],
    }
}
const fn once(spec: &'static Spec) -> Child {
    Child {
        spec,
        repeat: false,
        required: false,
    }
}
const fn required(spec: &'static Spec) -> Child {
    Child {
        spec,
        repeat: false,
        required: true,
    }
}
const fn many(spec: &'static Spec) -> Child {
    Child {
        spec,
        repeat: true,
        required: false,
    }
}

const COUNT: Ty = Ty::Int {
    min: 0,
    max: u32::MAX as i128,
};
const POSITIVE: Ty = Ty::Int {
    min: 1,
    max: u32::MAX as i128,
};
const UNIT: Ty = Ty::Num { min: 0.0, max: 1.0 };
const NON_NEGATIVE: Ty = Ty::Num {
    min: 0.0,
    max: f64::INFINITY,
};

pub(crate) const TOPOLOGIES: &[&str] = &[
    "sas",
    "centralized",
    "independent",
    "decentralized",
    "hybrid",
];
pub(crate) const PRIORITIES: &[&str] = &["critical", "high", "medium", "low"];
pub(crate) const GATE_BY: &[&str] = &["human", "any"];
pub(crate) const ON_TIMEOUT: &[&str] = &["reject", "revise", "approve"];
pub(crate) const FLAG_FORMATS: &[&str] = &["text", "json", "diff"];
/// Named coordination presets (`policy preset=...`); `crate::workflow::Preset` holds the numbers.
pub(crate) const PRESETS: &[&str] = &["default", "conservative", "aggressive"];
/// Field names the approval form (MCP elicitation) uses for itself; a question may not take one.
pub(crate) const RESERVED_QUESTION_IDS: &[&str] = &["decision", "feedback"];

pub(crate) static VERSION: Spec = leaf("version", Args::One(Ty::Int { min: 1, max: 1 }));
pub(crate) static SUMMARY: Spec = Spec {
    lang_props: true,
    ..leaf("summary", Args::Opt(Ty::Str))
};
pub(crate) static START: Spec = leaf("start", Args::One(Ty::Name));
pub(crate) static LANG: Spec = leaf("lang", Args::Many(Ty::Lang));
pub(crate) static BUDGET: Spec = Spec {
    props: &[
        Prop {
            name: "consults",
            ty: COUNT,
        },
        Prop {
            name: "wall",
            ty: Ty::Duration,
        },
        Prop {
            name: "tokens",
            ty: COUNT,
        },
        Prop {
            name: "cost-usd",
            ty: NON_NEGATIVE,
        },
    ],
    ..leaf("budget", Args::None)
};
pub(crate) static POLICY: Spec = Spec {
    props: &[
        Prop {
            name: "capability-threshold",
            ty: UNIT,
        },
        Prop {
            name: "max-agents",
            ty: POSITIVE,
        },
        Prop {
            name: "preset",
            ty: Ty::Enum(PRESETS),
        },
    ],
    ..leaf("policy", Args::None)
};

pub(crate) static TITLE: Spec = Spec {
    lang_props: true,
    ..leaf("title", Args::Opt(Ty::Str))
};
pub(crate) static ROLE: Spec = leaf("role", Args::One(Ty::Name));
pub(crate) static SKILL: Spec = leaf("skill", Args::One(Ty::Name));
/// The template that writes the stage's report for the person (`reports/<name>.md.j2`).
pub(crate) static REPORT: Spec = leaf("report", Args::One(Ty::Name));
pub(crate) static OUTPUT: Spec = leaf("output", Args::One(Ty::Name));
pub(crate) static TOPOLOGY: Spec = leaf("topology", Args::One(Ty::Enum(TOPOLOGIES)));
pub(crate) static MAX_VISITS: Spec = leaf("max-visits", Args::One(POSITIVE));
pub(crate) static PREFER: Spec = leaf("prefer", Args::Many(Ty::Name));
pub(crate) static ENSEMBLE: Spec = leaf("ensemble", Args::One(Ty::Bool));
/// The range of `consult context-chars`: below 1,000 characters a consult carries almost no
/// context; above 1,000,000 no model's window holds it.
pub(crate) const CONTEXT_CHARS: Ty = Ty::Int {
    min: 1_000,
    max: 1_000_000,
};
pub(crate) static CONSULT: Spec = Spec {
    props: &[
        Prop {
            name: "max",
            ty: COUNT,
        },
        Prop {
            name: "context-chars",
            ty: CONTEXT_CHARS,
        },
        Prop {
            name: "from-visit",
            ty: POSITIVE,
        },
    ],
    children: &[once(&PREFER), once(&ENSEMBLE)],
    ..leaf("consult", Args::None)
};
/// What a stage's context may hold: files, lines per file, error lines, characters (the seed's
/// per-stage table). `chars` is the same budget as `consult context-chars`.
pub(crate) static CONTEXT: Spec = Spec {
    props: &[
        Prop {
            name: "files",
            ty: POSITIVE,
        },
        Prop {
            name: "lines",
            ty: POSITIVE,
        },
        Prop {
            name: "error-lines",
            ty: POSITIVE,
        },
        Prop {
            name: "chars",
            ty: CONTEXT_CHARS,
        },
    ],
    ..leaf("context", Args::None)
};
/// A stage's working time, summed over its visits (the time a gate waits for a person does not
/// count); past it the stage is not entered again.
pub(crate) static WALL: Spec = leaf("wall", Args::One(Ty::Duration));
/// `edits #false`: the stage is read-only for the orchestrator; `maestro hook` refuses Claude
/// Code's editing tools while a run is in it.
pub(crate) static EDITS: Spec = leaf("edits", Args::One(Ty::Bool));
pub(crate) static RED_FLAGS: Spec = Spec {
    props: &[
        Prop {
            name: "max-chars",
            ty: POSITIVE,
        },
        Prop {
            name: "min-chars",
            ty: COUNT,
        },
        Prop {
            name: "max-tokens",
            ty: POSITIVE,
        },
        Prop {
            name: "hedging",
            ty: Ty::Bool,
        },
        Prop {
            name: "format",
            ty: Ty::Enum(FLAG_FORMATS),
        },
        Prop {
            name: "schema",
            ty: Ty::Name,
        },
        Prop {
            name: "dangerous-commands",
            ty: Ty::Bool,
        },
        Prop {
            name: "dangerous-code",
            ty: Ty::Bool,
        },
        Prop {
            name: "forbidden-files",
            ty: Ty::Bool,
        },
        Prop {
            name: "max-files",
            ty: POSITIVE,
        },
    ],
    ..leaf("red-flags", Args::None)
};
pub(crate) static VOTE: Spec = Spec {
    props: &[
        Prop {
            name: "k",
            ty: POSITIVE,
        },
        Prop {
            name: "max-samples",
            ty: POSITIVE,
        },
        Prop {
            name: "target",
            ty: Ty::Num {
                min: f64::NEG_INFINITY,
                max: f64::INFINITY,
            },
        },
        Prop {
            name: "p",
            ty: Ty::Num {
                min: f64::NEG_INFINITY,
                max: 1.0,
            },
        },
        Prop {
            name: "steps",
            ty: POSITIVE,
        },
    ],
    ..leaf("vote", Args::None)
};
pub(crate) static BY: Spec = leaf("by", Args::One(Ty::Enum(GATE_BY)));
pub(crate) static TIMEOUT: Spec = Spec {
    props: &[Prop {
        name: "on-timeout",
        ty: Ty::Enum(ON_TIMEOUT),
    }],
    ..leaf("timeout", Args::One(Ty::Duration))
};
pub(crate) static TEXT: Spec = Spec {
    lang_props: true,
    ..leaf("text", Args::Opt(Ty::Str))
};
pub(crate) static OPTIONS: Spec = Spec {
    props: &[Prop {
        name: "lang",
        ty: Ty::Lang,
    }],
    ..leaf("options", Args::Many(Ty::Str))
};
pub(crate) static QUESTION: Spec = Spec {
    props: &[Prop {
        name: "priority",
        ty: Ty::Enum(PRIORITIES),
    }],
    children: &[required(&TEXT), many(&OPTIONS)],
    ..leaf("question", Args::One(Ty::Name))
};
pub(crate) static GATE: Spec = Spec {
    children: &[once(&BY), once(&TIMEOUT), many(&QUESTION)],
    ..leaf("gate", Args::None)
};
pub(crate) static NEXT: Spec = Spec {
    props: &[
        Prop {
            name: "on",
            ty: Ty::Event,
        },
        Prop {
            name: "when",
            ty: Ty::Expr,
        },
    ],
    ..leaf("next", Args::One(Ty::Name))
};

/// Children a stage and `defaults` share.
const STAGE_SETTINGS: [Child; 13] = [
    once(&ROLE),
    once(&SKILL),
    once(&OUTPUT),
    once(&TOPOLOGY),
    once(&MAX_VISITS),
    once(&WALL),
    once(&CONSULT),
    once(&CONTEXT),
    once(&RED_FLAGS),
    once(&VOTE),
    once(&GATE),
    once(&REPORT),
    once(&EDITS),
];

pub(crate) static DEFAULTS: Spec = Spec {
    children: &STAGE_SETTINGS,
    ..leaf("defaults", Args::None)
};
pub(crate) static STAGE: Spec = Spec {
    children: &[
        once(&TITLE),
        STAGE_SETTINGS[0],
        STAGE_SETTINGS[1],
        STAGE_SETTINGS[2],
        STAGE_SETTINGS[3],
        STAGE_SETTINGS[4],
        STAGE_SETTINGS[5],
        STAGE_SETTINGS[6],
        STAGE_SETTINGS[7],
        STAGE_SETTINGS[8],
        STAGE_SETTINGS[9],
        STAGE_SETTINGS[10],
        STAGE_SETTINGS[11],
        STAGE_SETTINGS[12],
        many(&NEXT),
    ],
    ..leaf("stage", Args::One(Ty::Name))
};
pub(crate) static END: Spec = Spec {
    lang_props: false,
    ..leaf("end", Args::One(Ty::Name))
};
pub(crate) static WORKFLOW: Spec = Spec {
    children: &[
        required(&VERSION),
        once(&SUMMARY),
        required(&START),
        once(&LANG),
        once(&BUDGET),
        once(&POLICY),
        once(&DEFAULTS),
        many(&STAGE),
        many(&END),
    ],
    ..leaf("workflow", Args::One(Ty::Name))
};

/// Checks the naming rule shared by workflows, stages, ends, assets, providers and questions.
#[must_use]
pub(crate) fn is_valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 48
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
}

/// A language code: two or three lowercase letters (`en`, `ko`, `fil`).
#[must_use]
pub(crate) fn is_lang_code(s: &str) -> bool {
    (2..=3).contains(&s.len()) && s.chars().all(|c| c.is_ascii_lowercase())
}

/// Parses `"90s"`, `"15m"`, `"2h"`, `"1d"` into seconds.
#[must_use]
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let unit = s.chars().last()?;
    let digits = &s[..s.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Seconds as a person writes a duration, the inverse of [`parse_duration`] for what it
/// reads: `1800` → `30m`, `5400` → `1h30m`, `0` → `0s`.
#[must_use]
pub(crate) fn format_duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let out: String = [(h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if out.is_empty() { "0s".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("analyze"));
        assert!(is_valid_name("stage1_output-x"));
        assert!(!is_valid_name("Analyze"));
        assert!(!is_valid_name("1st"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"a".repeat(49)));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("1d"), Some(86_400));
        assert_eq!(parse_duration("1.5h"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
        for (secs, text) in [(1800, "30m"), (5400, "1h30m"), (90, "1m30s"), (0, "0s")] {
            assert_eq!(format_duration(secs), text);
        }
        assert_eq!(parse_duration(&format_duration(14_400)), Some(14_400));
    }
}
