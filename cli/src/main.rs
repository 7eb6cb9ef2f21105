//! `accueil`: Accueil on one machine. Parses the command line, sets up
//! logging and hands each command to its module.

mod answer;
mod backend;
mod local;
mod quarantine;
mod serve;
mod show;
mod simulate;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "accueil",
    version,
    about = "A front desk for one-person businesses"
)]
struct Cli {
    #[command(flatten)]
    place: Place,
    #[command(subcommand)]
    command: Command,
}

/// Which business and which data: the same defaults for every command.
#[derive(Args, Clone)]
pub struct Place {
    /// The business's configuration (TOML). Without it, the demo business.
    #[arg(long, global = true, value_name = "FILE", env = "ACCUEIL_CONFIG_FILE")]
    pub config: Option<PathBuf>,
    /// Where the database and the outbox live.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "accueil-data"
    )]
    pub data: PathBuf,
    /// Work on the deployed AWS table instead (ACCUEIL_TABLE, the standard
    /// AWS variables; the configuration from --config or ACCUEIL_CONFIG).
    #[arg(long, global = true)]
    pub aws: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run Accueil: webhooks over HTTP, processing, the daily digest.
    Serve(serve::ServeArgs),
    /// Send a correctly signed webhook to a running server.
    Simulate(simulate::SimulateArgs),
    /// List the threads, most recent first.
    Threads {
        #[arg(long)]
        json: bool,
    },
    /// Show one thread and its messages.
    Thread {
        /// The thread's reference, like T-4Z7KQ2M9XA.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Mark a thread done: it leaves the digest.
    Close { id: String },
    /// Answer the customer on the thread's channel (WhatsApp, email…).
    Reply {
        id: String,
        #[arg(long)]
        text: String,
    },
    /// Put a thread off: out of the digest until then.
    Snooze {
        id: String,
        /// tomorrow, next-week, opening, or a local time like "2026-12-08 14:00".
        #[arg(long)]
        until: String,
    },
    /// Open a closed, answered or snoozed thread again.
    Reopen { id: String },
    /// Send the jobs that failed every retry back to be processed, once
    /// their cause is fixed.
    Requeue,
    /// Print the digest as it stands (plain text on stdout).
    Digest {
        /// Also write the HTML part to this file.
        #[arg(long, value_name = "FILE.html")]
        preview: Option<PathBuf>,
        /// Send it to the owner now (locally: into the outbox).
        #[arg(long)]
        send: bool,
    },
    /// Check a configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Erase a contact and everything they wrote (email, phone or WhatsApp user id).
    Forget { contact: String },
    /// List the authentic payloads that could not be read, or print one as received.
    Quarantine {
        /// A payload's id, from the list.
        id: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate FILE and name the key of any error.
    Check { file: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ACCUEIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("the async runtime starts");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                backend::local_only(&cli.place, "serve")?;
                serve::run(&cli.place, args).await
            }
            Command::Simulate(args) => simulate::run(&cli.place, args).await,
            Command::Threads { json } => show::threads(&cli.place, json).await,
            Command::Thread { id, json } => show::thread(&cli.place, &id, json).await,
            Command::Close { id } => show::close(&cli.place, &id).await,
            Command::Reply { id, text } => answer::reply(&cli.place, &id, &text).await,
            Command::Snooze { id, until } => answer::snooze(&cli.place, &id, &until).await,
            Command::Reopen { id } => answer::reopen(&cli.place, &id).await,
            Command::Requeue => {
                if cli.place.aws {
                    anyhow::bail!("on AWS the dead-letter queue is SQS's: aws sqs start-message-move-task --source-arn <DeadLetterQueue ARN>");
                }
                let local = local::Local::open(&cli.place)?;
                let requeued = local.database.requeue_dead().await?;
                println!("{requeued} job(s) back on the queue: `accueil serve` processes them.");
                Ok(())
            }
            Command::Digest { preview, send } => show::digest(&cli.place, preview, send).await,
            Command::Config {
                command: ConfigCommand::Check { file },
            } => local::check_config(&file),
            Command::Forget { contact } => show::forget(&cli.place, &contact).await,
            Command::Quarantine { id } => quarantine::run(&cli.place, id.as_deref()).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accueil: {e:#}");
            ExitCode::from(2)
        }
    }
}
