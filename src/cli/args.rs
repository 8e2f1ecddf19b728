//! Command-line arguments: the only module that uses clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "maestro",
    version,
    about = "A workflow interpreter that lets Claude Code consult other models, with a person approving each step"
)]
pub(crate) struct Cli {
    /// Asset home to search first (overrides MAESTRO_HOME).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Lint workflow files; with no path, the whole resolved home and the assets it uses.
    Validate(ValidateArgs),
    /// Draw a workflow's state machine.
    Graph(GraphArgs),
    /// Copy the built-in workflows, roles, skills, schemas and config into ./.maestro/ for editing.
    Init(InitArgs),
    /// List the lint rules with their ids and severities; `--explain ID` prints one rule's
    /// documentation, or what a failure code means and what to do.
    Rules(RulesArgs),
    /// Serve the workflow tools to Claude Code over MCP: stdio, or Streamable HTTP at `/mcp`
    /// with the approval page at `/` (`--http ADDR`).
    Serve(ServeArgs),
    /// Serve the approval page: runs, their state machines and reports, and the gates waiting
    /// for you. Prints the URL to open (it carries an access token).
    Ui(UiArgs),
    /// List runs, or show one.
    Runs(RunsArgs),
    /// Export a run's audit trail.
    Log(LogArgs),
    /// List approvals waiting for a person, with the stage report and questions.
    Approvals(ApprovalsArgs),
    /// Approve a pending approval: the run moves on.
    Approve(DecideArgs),
    /// Send a stage back for another try, with feedback.
    Revise(DecideArgs),
    /// Reject a stage: the run ends as `rejected` unless the workflow routes rejections.
    Reject(DecideArgs),
    /// Move a run to the current version of its workflow, after showing what changed.
    Upgrade(UpgradeArgs),
    /// Print the JSON that registers maestro as an MCP server (for .mcp.json or ~/.claude.json).
    McpConfig,
    /// Answer a Claude Code hook: reads the hook's JSON on stdin. While a run waits for a
    /// person, holds every Claude Code tool that can change something (only reads pass); in a
    /// read-only stage, the tools that write files (the plugin and `maestro init --claude` set
    /// it up).
    Hook,
    /// Ask one provider (the same path as the MCP `consult` tool).
    Consult(ConsultArgs),
    /// List consult threads, or show one thread's turns in full.
    Threads(ThreadsArgs),
    /// Check the providers: installed, version, config problems, flags the installed CLI
    /// accepts; and whether the program of each check in conf/verify.yaml can start here.
    Doctor(DoctorArgs),
    /// Run the project's checks from .maestro/conf/verify.yaml (the same path as the MCP
    /// `verify` tool): each one passed, failed, or cannot run (its program did not start).
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// Checks to run, by name (default: every configured check).
    pub checks: Vec<String>,
    /// Record the results for this run: its guards read them as `checks.<name>`.
    #[arg(long = "run")]
    pub run_id: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where an HTTP server listens and who may reach it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ListenArgs {
    /// Allow an address other than loopback (anyone who can reach it and has the token may
    /// decide your gates: use a tunnel or a firewall).
    #[arg(long)]
    pub allow_remote: bool,
    /// A further host name the server answers to, e.g. a tunnel's (repeatable). Requests naming
    /// any other host are refused (DNS rebinding).
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Serve MCP over Streamable HTTP at ADDR (e.g. 127.0.0.1:7411) instead of stdio: `/mcp`
    /// for clients, `/` for the approval page.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` on `/mcp` (also MAESTRO_HTTP_TOKEN). Needed with
    /// --allow-remote.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    #[command(flatten)]
    pub listen: ListenArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct UiArgs {
    /// Where to listen; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:7410", value_name = "ADDR")]
    pub addr: std::net::SocketAddr,
    #[command(flatten)]
    pub listen: ListenArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConsultArgs {
    /// The question; `-` reads it from standard input.
    pub prompt: String,
    /// Provider name from conf/providers.yaml (default: the first enabled one).
    #[arg(long)]
    pub provider: Option<String>,
    #[arg(long)]
    pub model: Option<String>,
    /// Charge the consult to this run's budget (roles then see the run's outputs and facts).
    #[arg(long = "run")]
    pub run_id: Option<String>,
    /// A role template that frames the question, e.g. `debugger`.
    #[arg(long)]
    pub role: Option<String>,
    /// A file or glob to pack with the question (repeatable; secrets are refused).
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<String>,
    /// Pack a git diff: `staged`, `unstaged` or `base:<ref>`.
    #[arg(long)]
    pub diff: Option<crate::workspace::gitdiff::DiffSpec>,
    /// Continue a thread (`maestro threads` lists them).
    #[arg(long = "thread")]
    pub thread_id: Option<String>,
    /// Seconds before the call is killed.
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ThreadsArgs {
    /// A thread id: print its turns whole.
    pub thread: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DoctorArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunsArgs {
    /// A run id: show that run in full.
    pub run: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Include finished runs in the list.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    pub run: String,
    /// One JSON object per event (the default prints one readable line per event).
    #[arg(long)]
    pub jsonl: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ApprovalsArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Include decided approvals.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DecideArgs {
    /// The approval id (from `maestro approvals`).
    pub id: String,
    /// Words for the orchestrator (required by `revise`).
    #[arg(long)]
    pub feedback: Option<String>,
    /// An answer to one of the gate's questions: QUESTION_ID=TEXT (repeatable).
    #[arg(long = "answer", value_name = "QID=TEXT")]
    pub answers: Vec<String>,
    /// Never ask questions interactively.
    #[arg(long)]
    pub no_input: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct UpgradeArgs {
    /// The run id (from `maestro runs`).
    pub run: String,
    /// Move without asking (the changes are still printed).
    #[arg(long)]
    pub yes: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RulesArgs {
    /// Print the documentation of this rule (e.g. `unbounded-loop`), or explain this failure
    /// code (e.g. `budget_exhausted`).
    #[arg(long, value_name = "ID")]
    pub explain: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Human,
    Json,
    Github,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Workflow files (.kdl, .yaml, .yml); `-` reads one from standard input.
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Mermaid,
    Dot,
    /// A standalone SVG picture (the same drawing the approval page shows).
    Svg,
}

#[derive(Debug, clap::Args)]
pub(crate) struct GraphArgs {
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
pub(crate) struct InitArgs {
    /// Overwrite files you have edited.
    #[arg(long)]
    pub force: bool,
    /// For Claude Code without the plugin: register maestro in the project's .mcp.json, write
    /// the maestro skill, and merge maestro's hooks into .claude/settings.json.
    #[arg(long)]
    pub claude: bool,
    /// With --claude: leave .claude/settings.json alone (no hooks).
    #[arg(long, requires = "claude")]
    pub no_hooks: bool,
}
