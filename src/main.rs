//! The `kefu` command: parse arguments, load the configuration, run the chosen subcommand.

use clap::Parser;
use kefu::cli::Cli;
use std::process::ExitCode;

/// candle reads `RAYON_NUM_THREADS` before every matrix product; unset, it counts physical
/// cores from `/proc/cpuinfo` each time — slow, and 1 on a 2-vCPU machine, where the second
/// CPU then sits idle (measured: 28 → 22 ms per query). Setting the variable needs the
/// process environment before any thread starts, which safe Rust only offers by starting
/// over: the process re-executes itself once (same pid) with the variable set to the CPUs
/// it may use. An operator's own value is kept.
#[cfg(unix)]
fn set_inference_threads() {
    use std::os::unix::process::CommandExt;
    const VARIABLE: &str = "RAYON_NUM_THREADS";
    if std::env::var_os(VARIABLE).is_some() {
        return;
    }
    let (Ok(executable), Ok(threads)) = (
        std::env::current_exe(),
        std::thread::available_parallelism(),
    ) else {
        return;
    };
    let error = std::process::Command::new(executable)
        .args(std::env::args_os().skip(1))
        .env(VARIABLE, threads.to_string())
        .exec();
    // Only reached if exec failed: run on with candle's own default.
    eprintln!("warning: could not set {VARIABLE} ({error}); inference may be slower");
}

#[cfg(not(unix))]
fn set_inference_threads() {}

fn main() -> ExitCode {
    set_inference_threads();
    kefu::service::install_tls_provider();
    let cli = Cli::parse();
    let config = match cli.load_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = kefu::cli::init_logging(&config.log) {
        eprintln!("error: log filter {:?}: {error}", config.log);
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(kefu::cli::run(cli.command, config));
    // The database is closed by now; a model still training in a blocking thread (minutes
    // for a big knowledge base) must not hold the exit: it starts over at the next start.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
