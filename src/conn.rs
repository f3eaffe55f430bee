//! PostgreSQL connection settings the way psql users expect them:
//! `--dsn` (URL or libpq `key=value`), else `DATABASE_URL`, else the `PG*`
//! variables and libpq defaults. Every connection says
//! `application_name=pgadvisor`. Passwords never appear in any text this
//! module produces.

use anyhow::{Context, Result};

/// Connection flags shared by every subcommand that talks to PostgreSQL.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnArgs {
    /// Connection string: a URL (postgres://user@host:5432/db?sslmode=require)
    /// or libpq key=value pairs ("host=db1 dbname=app"). Default: $DATABASE_URL,
    /// then the PG* environment variables, then a local Unix socket.
    #[arg(long, value_name = "DSN")]
    pub dsn: Option<String>,
    /// Give up connecting after this long (e.g. 5s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub connect_timeout: std::time::Duration,
}

/// A resolved PostgreSQL target, ready to connect.
#[derive(Clone)]
pub struct PgTarget {
    pub config: tokio_postgres::Config,
    /// Human description without the password, e.g. `postgres@127.0.0.1:5432/app`.
    pub display: String,
}

impl ConnArgs {
    /// Resolve the flags against the environment.
    pub fn resolve(&self) -> Result<PgTarget> {
        let raw = match &self.dsn {
            Some(d) => d.clone(),
            None => std::env::var("DATABASE_URL").unwrap_or_default(),
        };
        let mut config: tokio_postgres::Config = raw.parse().with_context(
            || "cannot parse the connection string (expected a postgres:// URL or key=value pairs)",
        )?;
        config.application_name("pgadvisor");
        config.connect_timeout(self.connect_timeout);
        let display = describe(&config);
        Ok(PgTarget { config, display })
    }
}

impl PgTarget {
    /// Open one connection; the connection task runs on the current runtime.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) = self
            .config
            .connect(tokio_postgres::NoTls)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}", self.display))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }
}

/// `user@host:port/dbname`, never the password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("(default user)");
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or(user);
    format!("{user}@{host}:{port}/{db}")
}
