//! `pgadvisor fingerprint [FILE|-]`: normalized text and fingerprint per statement.

use crate::exit::ExitStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// File of `;`-terminated SQL statements, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: crate::output::Format,
}

pub async fn run(_args: Args) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("fingerprint: under construction in this branch")
}
