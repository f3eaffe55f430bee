//! `pgadvisor ping`: check the connection settings. Connects the way every
//! other command does and prints the server version, whether the session is
//! encrypted (and how the certificate was checked), the user and database.

use std::io::Write;

use crate::conn::{ConnArgs, Verification};
use crate::exit::ExitStatus;
use crate::output::Format;

const PING_SQL: &str = include_str!("../../sql/ping.sql");

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// What `ping` reports (JSON field names are part of the interface).
#[derive(Debug, serde::Serialize)]
pub struct Ping {
    /// `user@host:port/db` as resolved, never with the password.
    pub target: String,
    pub server_version: String,
    pub server_version_num: i32,
    pub user: String,
    pub database: String,
    pub application_name: String,
    pub tls: Tls,
}

#[derive(Debug, serde::Serialize)]
pub struct Tls {
    /// Whether this session is encrypted (as the server reports it).
    pub enabled: bool,
    pub version: Option<String>,
    pub cipher: Option<String>,
    /// The sslmode in effect.
    pub sslmode: &'static str,
    /// How the server certificate was checked: none, ca or full.
    pub verification: Option<Verification>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitStatus> {
    let target = args.conn.resolve()?;
    let client = target.connect().await?;
    // Simple protocol: works through transaction-pooling poolers (pgbouncer)
    // that cannot keep a prepared statement between round trips.
    let messages = client.simple_query(PING_SQL).await.map_err(|e| {
        anyhow::anyhow!(
            "connected to {}, but the check query failed: {}",
            target.display,
            crate::conn::explain::chain_text(&e)
        )
    })?;
    let row = messages
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "connected to {}, but the check query returned no row",
                target.display
            )
        })?;
    let text = |name: &str| row.get(name).map(str::to_string);
    let enabled = text("ssl").as_deref() == Some("t");
    let ping = Ping {
        target: target.display.clone(),
        server_version: text("server_version").unwrap_or_default(),
        server_version_num: text("server_version_num")
            .and_then(|v| v.parse().ok())
            .unwrap_or_default(),
        user: text("user").unwrap_or_default(),
        database: text("database").unwrap_or_default(),
        application_name: text("application_name").unwrap_or_default(),
        tls: Tls {
            enabled,
            version: text("tls_version"),
            cipher: text("tls_cipher"),
            sslmode: target.settings.sslmode.as_str(),
            verification: enabled.then_some(target.verification),
        },
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => crate::output::write_json(&mut out, &ping)?,
        Format::Table => {
            let tls = if ping.tls.enabled {
                let checked = match target.verification {
                    Verification::None => "certificate not checked",
                    Verification::Ca => "certificate chain checked",
                    Verification::Full => "certificate and host name checked",
                };
                format!(
                    "on ({}, {}; sslmode={}, {checked})",
                    ping.tls.version.as_deref().unwrap_or("?"),
                    ping.tls.cipher.as_deref().unwrap_or("?"),
                    ping.tls.sslmode
                )
            } else {
                format!("off (sslmode={})", ping.tls.sslmode)
            };
            writeln!(out, "connected to {}", ping.target)?;
            writeln!(out, "server    PostgreSQL {}", ping.server_version)?;
            writeln!(out, "user      {}", ping.user)?;
            writeln!(out, "database  {}", ping.database)?;
            writeln!(out, "TLS       {tls}")?;
            writeln!(out, "app name  {}", ping.application_name)?;
        }
    }
    Ok(ExitStatus::Success)
}
