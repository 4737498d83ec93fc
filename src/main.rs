//! The `dawnpost` binary: parse arguments, set up logging, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    use std::io::Write as _;
    let cli = dawnpost::cli::Cli::parse();
    let wanted = std::env::var("DAWNPOST_LOG").unwrap_or_default();
    let filter = EnvFilter::try_new(dawnpost::cli::log_filter(&wanted))
        .unwrap_or_else(|_| EnvFilter::new(dawnpost::cli::log_filter("")));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        dawnpost::cli::LogFormat::Text => logs.init(),
        dawnpost::cli::LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: cannot start the async runtime: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(dawnpost::cli::run(cli));
    // Whatever task is still running (a driver's background work) must not keep the process
    // from exiting once the command is done: dropping the runtime would wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head -1`): what was asked is done.
        Err(e) if e.is::<dawnpost::cli::OutputClosed>() => ExitCode::SUCCESS,
        Err(e) => {
            // Nowhere to say it if standard error is gone too; the exit code still does.
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                dawnpost::cli::error_text(&e)
            );
            ExitCode::FAILURE
        }
    }
}
