//! `mailtrail`: the server and its administration commands.

use std::process::ExitCode;

use clap::Parser;
use mailtrail::{cli, telemetry};

fn main() -> ExitCode {
    // The offline classifier starts no runtime and no logging: its output
    // is its JSON lines, and start-up is a real share of its time.
    let done = match cli::plain_classify(std::env::args_os()) {
        Some((format, paths)) => cli::run_classify(&paths, format),
        None => {
            let cli = cli::Cli::parse();
            match cli::run_offline(&cli) {
                Some(done) => done,
                None => return run_in_runtime(cli),
            }
        }
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Every command but `classify`: logging on, inside the async runtime.
fn run_in_runtime(cli: cli::Cli) -> ExitCode {
    telemetry::init(cli.log_format());
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
