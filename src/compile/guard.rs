//! `when` guards: minijinja expressions compiled once, at load time.

use std::sync::{Arc, LazyLock};

use minijinja::{Environment, Expression, UndefinedBehavior};

/// The variables a guard may read (workflow-language.md, "Guards"). `checks.<name>` holds the
/// last `verify` of check `<name>` in the current visit: recorded facts, not the model's claims;
/// `previous` holds the checks recorded before this visit and the stage's previous output;
/// `selection` the visit's last `select`.
pub(crate) const GUARD_VARIABLES: &[&str] =
    &["output", "checks", "previous", "selection", "run", "stage"];

static GUARD_ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A guard that reads an optional field the output lacks is false, not a crash.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
});

/// A compiled `when` expression.
#[derive(Clone)]
pub(crate) struct Guard {
    pub source: String,
    expr: Arc<Expression<'static, 'static>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Guard").field(&self.source).finish()
    }
}

impl Guard {
    /// Evaluates the guard against a context of `output`, `checks`, `run` and `stage`.
    ///
    /// # Errors
    /// When evaluation fails (e.g. comparing a string with a number).
    pub(crate) fn eval(&self, ctx: &serde_json::Value) -> Result<bool, minijinja::Error> {
        self.expr.eval(ctx).map(|v| v.is_true())
    }

    /// Top-level and dotted variable paths the guard reads, e.g. `output.confidence`.
    #[must_use]
    pub(crate) fn variables(&self, nested: bool) -> Vec<String> {
        // Globals (`range`, `dict`, `namespace`) are functions, not variables the guard reads.
        let mut v: Vec<String> = self
            .expr
            .undeclared_variables(nested)
            .into_iter()
            .filter(|path| {
                let top = path.split('.').next().unwrap_or_default();
                !GUARD_ENV.globals().any(|(name, _)| name == top)
            })
            .collect();
        v.sort();
        v
    }
}

/// Compiles a guard.
///
/// # Errors
/// The parser's error when the expression does not parse.
pub(crate) fn compile_guard(source: &str) -> Result<Guard, minijinja::Error> {
    // minijinja 2.24's expression lexer panics ("empty lexer stack") on a variable-end marker,
    // so refuse template delimiters before it sees them; they never belong in an expression.
    if let Some(delim) = ["}}", "{{", "%}", "{%"]
        .into_iter()
        .find(|d| source.contains(d))
    {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::SyntaxError,
            format!(
                "unexpected `{delim}`: a guard is a bare expression, without template delimiters"
            ),
        ));
    }
    // minijinja compiles an operator chain recursively: refuse one long enough to exhaust the
    // stack before it gets there.
    if crate::template::too_many_operators(source, false).is_some() {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::SyntaxError,
            format!(
                "the expression holds more than {} operators; a guard needs a handful",
                crate::template::MAX_OPERATORS
            ),
        ));
    }
    let owned = source.to_string();
    let compiled = std::panic::catch_unwind(move || GUARD_ENV.compile_expression_owned(owned))
        .map_err(|_| {
            minijinja::Error::new(
                minijinja::ErrorKind::SyntaxError,
                "the expression could not be parsed",
            )
        })?;
    let expr = compiled?;
    Ok(Guard {
        source: source.to_string(),
        expr: Arc::new(expr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn guards_evaluate_and_list_their_variables() {
        let g = compile_guard("output.confidence >= 0.6 and run.visits.debug < 3").unwrap();
        let ctx =
            json!({"output": {"confidence": 0.7}, "run": {"visits": {"debug": 1}}, "stage": {}});
        assert!(g.eval(&ctx).unwrap());
        assert_eq!(
            g.variables(true),
            vec!["output.confidence", "run.visits.debug"]
        );
        assert!(compile_guard("output.x ==").is_err());
    }

    #[test]
    fn template_delimiters_are_errors_not_panics() {
        for g in ["output.x }} y", "x -}} y", "{{ output.x }}", "a %} b"] {
            let err = compile_guard(g).unwrap_err();
            assert!(err.to_string().contains("delimiters"), "{g}: {err}");
        }
    }

    #[test]
    fn checks_are_a_guard_variable_and_an_absent_check_is_false() {
        assert!(GUARD_VARIABLES.contains(&"checks"));
        let g = compile_guard("checks.test.passed").unwrap();
        assert_eq!(g.variables(false), vec!["checks"]);
        let ran = json!({"checks": {"test": {"passed": true, "exit_code": 0, "timed_out": false, "counts": null}}});
        assert!(g.eval(&ran).unwrap());
        // Not run in this visit: undefined, so the guard is false.
        assert!(!g.eval(&json!({"checks": {}})).unwrap());
        assert!(
            !g.eval(&json!({"output": {"test": {"passed": true}}}))
                .unwrap()
        );
    }

    #[test]
    fn operator_chains_are_refused_not_compiled() {
        for chain in [" or a", ".b", "|abs", " ~ a", " + 1"] {
            let source = format!("a{}", chain.repeat(100_000));
            let err = compile_guard(&source).unwrap_err();
            assert!(err.to_string().contains("operators"), "{err}");
        }
        let fine = format!("output.a{}", " or output.a".repeat(100));
        assert!(compile_guard(&fine).is_ok());
    }

    #[test]
    fn missing_optional_fields_are_false() {
        let g = compile_guard("output.test_result.passed").unwrap();
        assert!(!g.eval(&json!({"output": {}})).unwrap());
    }
}
