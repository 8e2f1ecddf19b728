//! Command-line arguments: the only module that uses clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "maestro",
    version,
    about = "A workflow interpreter that lets Claude Code consult other models, with a person approving each step"
)]
pub struct Cli {
    /// Asset home to search first (overrides MAESTRO_HOME).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint workflow files; with no path, the whole resolved home and the assets it uses.
    Validate(ValidateArgs),
    /// Draw a workflow's state machine.
    Graph(GraphArgs),
    /// Copy the built-in workflows, roles, skills, schemas and config into ./.maestro/ for editing.
    Init(InitArgs),
    /// List the lint rules with their ids and severities.
    Rules,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
    Github,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Workflow files (.kdl, .yaml, .yml); `-` reads one from standard input.
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// A workflow name from the home, or a path to a workflow file.
    #[arg(default_value = "default")]
    pub workflow: String,
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// Language for stage titles.
    #[arg(long)]
    pub lang: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Overwrite files you have edited.
    #[arg(long)]
    pub force: bool,
}
