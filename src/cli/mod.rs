//! The command line: subcommands and the settings every one of them shares.

mod admin;
mod backup;
mod bench;
mod bench_chat;
mod bench_desk;
mod bench_tickets;
mod eval;
mod eval_recommend;
mod healthcheck;
mod knowledge;
mod scratch;
mod serve;
mod train;

use crate::config::{Config, ConfigError, Overrides};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "kefu",
    version,
    about = "A self-hosted help desk in one binary: chat widget, local AI bot, agent desk, tickets.",
    after_help = "Settings come from defaults < kefu.toml < KEFU_* environment variables < flags."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file [default: ./kefu.toml when it exists]
    #[arg(long, global = true, env = "KEFU_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where kefu keeps its database, index and uploads [default: ./kefu-data]
    #[arg(long, global = true, env = "KEFU_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log filter, e.g. `info` or `kefu=debug,info` [default: info]
    #[arg(long, global = true, env = "KEFU_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Sentence-embedding model: an embedded model's name or a model directory
    /// [default: multilingual-e5-small-zh-en]
    #[arg(long, global = true, env = "KEFU_MODEL", value_name = "NAME|DIR")]
    pub model: Option<String>,
    /// Top encoder layers fine-tuned on the knowledge base in the background, 0 to keep the
    /// encoder frozen [default: 4]
    #[arg(long, global = true, env = "KEFU_FINE_TUNE_LAYERS", value_name = "N")]
    pub fine_tune_layers: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (desk, admin, widget, API).
    Serve(ServeArgs),
    /// Manage accounts from the shell, for operators without a browser.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Write a consistent copy of the database to FILE; safe while kefu serves.
    Backup {
        /// Where to write the backup (replaced if it exists).
        file: PathBuf,
    },
    /// Replace the database with the backup in FILE. Stop `kefu serve` first.
    Restore {
        /// A file written by `kefu backup`.
        file: PathBuf,
    },
    /// Import a file into the knowledge base; works while kefu serves.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export data to a file.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Rebuild the search index from the database (stop `kefu serve` first).
    Reindex,
    /// Train the bot on the knowledge base now, fine-tuning the encoder (`--fine-tune-layers`)
    /// whatever the knowledge base's size; `kefu serve` then starts with the result. Stop
    /// `kefu serve` first.
    Train,
    /// Measure kefu's speed on synthetic data in a temporary directory.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Measure the bot's accuracy on labelled data with the production models.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Exit 0 if the kefu serving on the configured address answers /healthz (for Docker).
    Healthcheck {
        /// Address to ask [default: the configured bind address]
        #[arg(long, env = "KEFU_BIND", value_name = "ADDR")]
        address: Option<String>,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "KEFU_BIND", value_name = "ADDR")]
    pub bind: Option<String>,
    /// The URL people use to reach kefu, e.g. https://help.example.com
    #[arg(long, env = "KEFU_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Take client addresses from X-Forwarded-For (only behind a reverse proxy you run)
    #[arg(long, env = "KEFU_TRUST_PROXY", num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub trust_proxy: Option<bool>,
    /// HTTP worker threads [default: number of CPUs]
    #[arg(long, env = "KEFU_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Do not load the demo knowledge base into a new data directory
    #[arg(long, env = "KEFU_NO_DEMO")]
    pub no_demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// FAQ entries from a CSV with the columns question, answer, variants, category, tags,
    /// language, status, external_id (UTF-8 or GBK). All rows are imported, or none.
    Faq {
        file: PathBuf,
        /// Check the file and show what would change, without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Catalog items from a CSV with the columns id, title, description, category, tags,
    /// price, url, image_url, language (UTF-8 or GBK), embedded with the model. All rows
    /// are imported, or none; a row whose id exists updates that item.
    Catalog {
        file: PathBuf,
        /// Check the file and show what would change, without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// CSV import time and search latency (p50/p99) over a knowledge base of N entries.
    Kb {
        #[arg(long, default_value_t = 10_000)]
        entries: usize,
        /// How many times to run the set of benchmark queries.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Embedding speed of the model (`--model`): single-query latency and texts/s at batch
    /// 1, 32 and 128, plus peak memory.
    Embed {
        /// Single-query runs to time.
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Help-desk texts embedded once per batch size.
        #[arg(long, default_value_t = 512)]
        texts: usize,
    },
    /// Load-test the chat widget against the real server on 127.0.0.1: concurrent
    /// conversations, each timing POST → the bot's reply on its event stream.
    Chat {
        /// Knowledge-base entries to generate (default: the demo knowledge base).
        #[arg(long)]
        entries: Option<usize>,
        /// Conversations running at once; a comma-separated list runs each level in turn
        /// on the same server (training once).
        #[arg(long, value_delimiter = ',', default_values_t = [1, 50])]
        conversations: Vec<usize>,
        /// Messages each customer sends, one after another (at most 10: the per-visitor
        /// rate limit's burst).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=10))]
        messages: u16,
        /// Customers each conversation slot serves one after another.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// The agents' side under load against a `kefu serve` child process: handoff → the
    /// conversation in the agent's open desk (p50/p99), then how many desk and widget event
    /// streams the server holds open, with its memory at each level.
    Desk {
        /// Customers who hand off one after another.
        #[arg(long, default_value_t = 100)]
        handoffs: usize,
        /// Agent desks held open on the desk event stream.
        #[arg(long, default_value_t = 50)]
        desks: usize,
        /// Widget event streams held open, a level at a time (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = [1_000, 5_000])]
        widgets: Vec<usize>,
    },
    /// Ticket list and full-text search latency (p50/p99) on a help desk of N tickets, for
    /// an admin and for an agent scoped to their teams.
    Tickets {
        #[arg(long, default_value_t = 100_000)]
        tickets: usize,
        /// How many times each query runs.
        #[arg(long, default_value_t = 50)]
        rounds: usize,
    },
    /// Time the bot's understanding of one message (embed + classify + dense and keyword
    /// retrieval) on a synthetic knowledge base, after embedding and training on it.
    Understand {
        /// Knowledge-base entries to generate.
        #[arg(long, default_value_t = 10_000)]
        entries: usize,
        /// How many times to run the set of benchmark queries.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Keep the knowledge base, its vectors and the model in DIR (created if missing) and
        /// reuse them when it already holds a run of the same size: only the first run embeds
        /// and trains.
        #[arg(long, value_name = "DIR")]
        keep: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Train the production intent model (with `--fine-tune-layers`) on TRAIN and report accuracy, macro-F1,
    /// out-of-scope precision/recall (rows labelled `oos`), the most confused labels,
    /// training time and per-query latency on TEST. CSV columns: text,label.
    Intents {
        #[arg(long, value_name = "TRAIN.csv")]
        train: PathBuf,
        #[arg(long, value_name = "TEST.csv")]
        test: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Load FAQ.csv into a temporary knowledge base and report the bot's top-1/top-3
    /// accuracy and MRR on QUERIES.csv (columns text,expected_question), with each
    /// retriever alone for comparison.
    Retrieval {
        #[arg(long, value_name = "FAQ.csv")]
        faq: PathBuf,
        #[arg(long, value_name = "QUERIES.csv")]
        queries: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Hold out each customer's last purchase and report hit-rate@10 and NDCG@10 of the
    /// recommender against a popularity baseline. CSV columns: customer,item,event,timestamp
    /// (event purchase, add_to_cart, …; Unix seconds).
    Recommend {
        #[arg(long, value_name = "EVENTS.csv")]
        events: PathBuf,
        /// A catalog CSV (id, category, …) for the interest signal.
        #[arg(long, value_name = "CATALOG.csv")]
        catalog: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// The knowledge base as a CSV that `kefu import faq` reads back unchanged.
    Faq { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account. The password is asked for, or read from stdin with --password-stdin.
    CreateUser {
        #[arg(long)]
        email: String,
        /// admin or agent
        #[arg(long, default_value = "agent")]
        role: String,
        /// Name shown to colleagues and customers [default: the part of the e-mail before @]
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for an account and end all its sessions.
    ResetPassword {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List all accounts.
    ListUsers,
}

impl Cli {
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let mut overrides = Overrides {
            data_dir: self.global.data_dir.clone(),
            log: self.global.log.clone(),
            model: self.global.model.clone(),
            fine_tune_layers: self.global.fine_tune_layers,
            ..Overrides::default()
        };
        if let Command::Serve(serve) = &self.command {
            overrides.bind = serve.bind.clone();
            overrides.public_url = serve.public_url.clone();
            overrides.trust_proxy = serve.trust_proxy;
            overrides.workers = serve.workers;
            overrides.demo = serve.no_demo.then_some(false);
        }
        Config::load(self.global.config.as_deref(), overrides)
    }
}

pub fn init_logging(filter: &str) -> Result<(), tracing_subscriber::filter::ParseError> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve(_) => serve::run(&config).await,
        Command::Admin(admin) => admin::run(admin, &config).await,
        Command::Backup { file } => backup::backup(&config, &file).await,
        Command::Restore { file } => backup::restore(&config, &file),
        Command::Import(ImportCommand::Faq { file, dry_run }) => {
            knowledge::import_faq(&config, &file, dry_run).await
        }
        Command::Import(ImportCommand::Catalog { file, dry_run }) => {
            knowledge::import_catalog(&config, &file, dry_run).await
        }
        Command::Export(ExportCommand::Faq { file }) => knowledge::export_faq(&config, &file).await,
        Command::Reindex => knowledge::reindex(&config).await,
        Command::Train => train::train(&config).await,
        Command::Bench(BenchCommand::Kb { entries, rounds }) => {
            bench::knowledge(&config, entries, rounds).await
        }
        Command::Bench(BenchCommand::Embed { runs, texts }) => {
            bench::embedding(&config, runs, texts).await
        }
        Command::Bench(BenchCommand::Chat {
            entries,
            conversations,
            messages,
            rounds,
        }) => {
            bench_chat::chat(
                &config,
                bench_chat::ChatBenchOptions {
                    entries,
                    conversations,
                    messages: usize::from(messages),
                    rounds,
                },
            )
            .await
        }
        Command::Bench(BenchCommand::Desk {
            handoffs,
            desks,
            widgets,
        }) => {
            bench_desk::desk(
                &config,
                bench_desk::DeskBenchOptions {
                    handoffs,
                    desks,
                    widgets,
                },
            )
            .await
        }
        Command::Bench(BenchCommand::Tickets { tickets, rounds }) => {
            bench_tickets::tickets(tickets, rounds).await
        }
        Command::Bench(BenchCommand::Understand {
            entries,
            rounds,
            keep,
        }) => bench::understanding(&config, entries, rounds, keep.as_deref()).await,
        Command::Eval(EvalCommand::Intents { train, test, json }) => {
            eval::intents(&config, &train, &test, json).await
        }
        Command::Eval(EvalCommand::Retrieval { faq, queries, json }) => {
            eval::retrieval(&config, &faq, &queries, json).await
        }
        Command::Eval(EvalCommand::Recommend {
            events,
            catalog,
            json,
        }) => eval_recommend::recommend_eval(&events, catalog.as_deref(), json),
        Command::Healthcheck { address } => {
            healthcheck::check(address.as_deref().unwrap_or(&config.bind))
        }
    }
}
