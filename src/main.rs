use clap::Parser;

fn main() -> std::process::ExitCode {
    maskflow::run(maskflow::cli::Cli::parse())
}
