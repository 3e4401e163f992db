use std::process::ExitCode;

use clap::Parser;

/// The exit codes are the README's ("Exit codes"): each comes from how the command ended or
/// from the variant of the error that ended it.
fn main() -> ExitCode {
    let cli = maskflow::cli::Cli::parse();
    let mut reporter = maskflow::start(&cli);
    match maskflow::execute(&cli, reporter.as_mut()) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(error) => {
            maskflow::report_error(&error, reporter.as_mut());
            ExitCode::from(error.exit_code())
        }
    }
}
