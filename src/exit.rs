//! Exit codes, decided in one place (see README "Exit codes").

/// What a command tells the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: the command ran and found nothing that fails it.
    Success,
    /// 1: the command ran and found something at `error` severity
    /// (`check`), or a refusal the user asked for (`--fail-on-findings`).
    Findings,
    /// 2: usage error, bad input, connection failure: the command could not do its job.
    Error,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Findings => 1,
            ExitStatus::Error => 2,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}
