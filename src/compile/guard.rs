//! `when` guards: minijinja expressions compiled once, at load time.

use std::sync::{Arc, LazyLock};

use minijinja::{Environment, Expression, UndefinedBehavior};

/// The variables a guard may read (workflow-language.md, "Stage lifecycle and events").
pub const GUARD_VARIABLES: &[&str] = &["output", "checks", "run", "stage"];

static GUARD_ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A guard that reads an optional field the output lacks is false, not a crash.
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
});

/// A compiled `when` expression.
#[derive(Clone)]
pub struct Guard {
    pub source: String,
    expr: Arc<Expression<'static, 'static>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Guard").field(&self.source).finish()
    }
}

impl Guard {
    /// Evaluates the guard against a context of `output`, `run` and `stage`.
    ///
    /// # Errors
    /// When evaluation fails (e.g. comparing a string with a number).
    pub fn eval(&self, ctx: &serde_json::Value) -> Result<bool, minijinja::Error> {
        self.expr.eval(ctx).map(|v| v.is_true())
    }

    /// Top-level and dotted variable paths the guard reads, e.g. `output.confidence`.
    #[must_use]
    pub fn variables(&self, nested: bool) -> Vec<String> {
        let mut v: Vec<String> = self.expr.undeclared_variables(nested).into_iter().collect();
        v.sort();
        v
    }
}

/// Compiles a guard.
///
/// # Errors
/// The parser's error when the expression does not parse.
pub fn compile_guard(source: &str) -> Result<Guard, minijinja::Error> {
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
    fn missing_optional_fields_are_false() {
        let g = compile_guard("output.test_result.passed").unwrap();
        assert!(!g.eval(&json!({"output": {}})).unwrap());
    }
}
