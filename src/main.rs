//! `mailtrail`: the server and its administration commands.

use std::process::ExitCode;

use clap::Parser;
use mailtrail::{cli, telemetry};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // The offline classifier starts no runtime and no logging: its output
    // is its JSON lines, and start-up is a real share of its time.
    if let Some(done) = cli::run_offline(&cli) {
        return match done {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
