//! The `mailtrail` binary's start-up glue, as a library so that the
//! integration tests start exactly the server users run (on port 0).

pub mod cli;
pub mod config;
pub mod convert;
pub mod startup;
mod submission;
pub mod telemetry;
pub mod transport;
