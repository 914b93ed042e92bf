//! The `fitroom` binary: configuration, the command line, and the web server that mounts the
//! Leptos pages beside the REST API and the webhooks.

use std::process::ExitCode;

use clap::Parser;
use fitroom_server::Config;
use fitroom_server::cli::{Cli, Command};

mod serve;

#[tokio::main]
async fn main() -> ExitCode {
    fitroom_server::telemetry::init();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => match serve::run(config).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "fitroom stopped");
                ExitCode::FAILURE
            }
        },
        command => fitroom_server::cli::run(command, config).await,
    }
}
