//! PostgreSQL connection settings the way psql users expect them:
//! `--dsn` (URL or libpq `key=value`), else `DATABASE_URL`, else the `PG*`
//! variables and libpq defaults (Unix socket, current user, `~/.pgpass`).
//! TLS follows libpq's six sslmodes with rustls. Every connection says
//! `application_name=pgadvisor` unless the user named it. Passwords never
//! appear in any text this module produces.
//!
//! Layout: `params` reads connection strings, `resolve` applies libpq's
//! precedence and defaults, `pgpass` reads the password file, `tls` builds
//! the rustls connector, `explain` turns failures into advice. This file
//! holds the clap flags and the resolved [`PgTarget`] that connects.
//! See docs/connection.md.

pub mod explain;
pub mod params;
pub mod pgpass;
pub mod resolve;
pub mod tls;

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use resolve::{Environment, Host, Settings, SslMode};
pub use tls::Verification;

/// Connection flags shared by every subcommand that talks to PostgreSQL.
#[derive(Clone, Default, clap::Args)]
pub struct ConnArgs {
    /// Connection string: a URL (postgres://user@host:5432/db?sslmode=require)
    /// or libpq key=value pairs ("host=db1 dbname=app"). Default: $DATABASE_URL,
    /// then the PG* environment variables, then a local Unix socket.
    #[arg(long, value_name = "DSN")]
    pub dsn: Option<String>,
    /// Give up connecting after this long (e.g. 5s, 1m), unless the connection
    /// string's connect_timeout or PGCONNECT_TIMEOUT says otherwise.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub connect_timeout: std::time::Duration,
}

impl fmt::Debug for ConnArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The DSN may hold a password: show only whether one was given.
        f.debug_struct("ConnArgs")
            .field("dsn", &self.dsn.as_ref().map(|_| "(given)"))
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A resolved PostgreSQL target, ready to connect.
#[derive(Clone)]
pub struct PgTarget {
    pub config: tokio_postgres::Config,
    /// Human description without the password, e.g. `postgres@127.0.0.1:5432/app`.
    pub display: String,
    /// The settings `config` was built from (sslmode, where the password came from, …).
    pub settings: Settings,
    /// How the server certificate is checked when TLS is used.
    pub verification: Verification,
    timeout: Duration,
    tls: MakeRustlsConnect,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("display", &self.display)
            .field("settings", &self.settings)
            .field("verification", &self.verification)
            .finish()
    }
}

impl ConnArgs {
    /// Resolve the flags against the process environment. Warnings (e.g. an
    /// unsafe password file that was ignored) go to stderr, as libpq's do.
    pub fn resolve(&self) -> Result<PgTarget> {
        let target = self.resolve_in(&Environment::from_process())?;
        for w in &target.settings.warnings {
            eprintln!("warning: {w}");
        }
        Ok(target)
    }

    /// Resolve the flags against a given environment (tests pass a map).
    pub fn resolve_in(&self, env: &Environment) -> Result<PgTarget> {
        let dsn = resolve::connection_string(self.dsn.as_deref(), env);
        let settings = resolve::resolve(dsn, env)?;
        PgTarget::from_settings(settings, self.connect_timeout, env)
    }
}

impl PgTarget {
    /// Build the driver configuration and TLS connector for resolved settings.
    pub fn from_settings(
        settings: Settings,
        default_timeout: Duration,
        env: &Environment,
    ) -> Result<PgTarget> {
        let display = settings.describe();
        let timeout = settings.connect_timeout.unwrap_or(default_timeout);
        let mut config = tokio_postgres::Config::new();
        for (host, port) in &settings.hosts {
            match host {
                Host::Tcp(name) => config.host(name),
                Host::Unix(dir) => config.host_path(dir),
            };
            config.port(*port);
        }
        if let Some(addr) = settings.hostaddr {
            if settings.hosts.len() > 1 {
                bail!("hostaddr works with a single host only; give one host per hostaddr");
            }
            config.hostaddr(addr);
        }
        config.user(&settings.user);
        if let Some(p) = &settings.password {
            config.password(p.0.as_bytes());
        }
        config.dbname(&settings.dbname);
        config.application_name(&settings.application_name);
        config.connect_timeout(timeout);
        if let Some(o) = &settings.options {
            config.options(o);
        }
        if let Some(k) = settings.keepalives {
            config.keepalives(k);
        }
        if let Some(k) = settings.keepalives_idle {
            config.keepalives_idle(k);
        }
        if settings.target_session_attrs.as_deref() == Some("read-write") {
            config.target_session_attrs(tokio_postgres::config::TargetSessionAttrs::ReadWrite);
        }
        if let Some(cb) = &settings.channel_binding {
            use tokio_postgres::config::ChannelBinding;
            config.channel_binding(match cb.as_str() {
                "disable" => ChannelBinding::Disable,
                "require" => ChannelBinding::Require,
                _ => ChannelBinding::Prefer,
            });
        }
        config.ssl_mode(driver_ssl_mode(&settings));

        let default_root = resolve::default_root_cert(env);
        let (verification, roots) = tls::verification(
            settings.sslmode,
            settings.sslrootcert.as_deref(),
            default_root.as_deref(),
        );
        let tls = tls::connector(verification, roots.as_ref())
            .with_context(|| format!("cannot set up TLS for {display}"))?;
        Ok(PgTarget {
            config,
            display,
            settings,
            verification,
            timeout,
            tls,
        })
    }

    /// Open one connection; the connection task runs on the current runtime.
    pub async fn connect(&self) -> Result<tokio_postgres::Client> {
        match self.connect_with(&self.config).await {
            Ok(client) => Ok(client),
            // sslmode=allow: plain text was refused; libpq then retries with TLS.
            Err((Some(_), first))
                if self.settings.sslmode == SslMode::Allow && !self.settings.all_unix() =>
            {
                let mut tls_config = self.config.clone();
                tls_config.ssl_mode(tokio_postgres::config::SslMode::Require);
                self.connect_with(&tls_config).await.map_err(|(_, second)| {
                    anyhow!("{second} (a plain-text attempt failed first: {first})")
                })
            }
            Err((_, message)) => Err(anyhow!(message)),
        }
    }

    /// Err carries the driver error (when there is one) and the explanation.
    async fn connect_with(
        &self,
        config: &tokio_postgres::Config,
    ) -> std::result::Result<tokio_postgres::Client, (Option<tokio_postgres::Error>, String)> {
        // The driver's connect_timeout covers opening the socket; this one
        // also covers a server that accepts and then never answers.
        let hosts = u32::try_from(self.settings.hosts.len()).unwrap_or(1).max(1);
        let deadline = self.timeout.saturating_mul(hosts);
        match tokio::time::timeout(deadline, config.connect(self.tls.clone())).await {
            Err(_) => Err((None, explain::timeout_text(&self.settings, &self.display))),
            Ok(Err(e)) => {
                let text = explain::explain(&e, &self.settings, &self.display);
                Err((Some(e), text))
            }
            Ok(Ok((client, connection))) => {
                tokio::spawn(async move {
                    // Errors surface on the client's next call.
                    let _ = connection.await;
                });
                Ok(client)
            }
        }
    }

    /// A connection pool with the same settings and TLS; no connection is
    /// opened until the first `get()` (see [`PgTarget::connect_pool`]).
    /// With sslmode=allow, pooled connections prefer TLS.
    pub fn pool(&self, max_size: usize) -> Result<deadpool_postgres::Pool> {
        let mut config = self.config.clone();
        if self.settings.sslmode == SslMode::Allow && !self.settings.all_unix() {
            config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
        }
        let manager = deadpool_postgres::Manager::from_config(
            config,
            self.tls.clone(),
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        deadpool_postgres::Pool::builder(manager)
            .max_size(max_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(self.timeout))
            .build()
            .with_context(|| format!("cannot build a connection pool for {}", self.display))
    }

    /// [`PgTarget::pool`], checked by opening its first connection, so a bad
    /// setting fails here with the same advice as [`PgTarget::connect`].
    pub async fn connect_pool(&self, max_size: usize) -> Result<deadpool_postgres::Pool> {
        let pool = self.pool(max_size)?;
        let first = pool.get().await.map_err(|e| self.pool_error(&e))?;
        drop(first); // back into the pool for the caller
        Ok(pool)
    }

    /// Explain a failure to get a pooled connection.
    pub fn pool_error(&self, err: &deadpool_postgres::PoolError) -> anyhow::Error {
        use deadpool_postgres::PoolError;
        match err {
            PoolError::Backend(e) => anyhow!(explain::explain(e, &self.settings, &self.display)),
            PoolError::Timeout(_) => anyhow!(explain::timeout_text(&self.settings, &self.display)),
            other => anyhow!(
                "cannot get a connection to PostgreSQL at {} from the pool: {other}",
                self.display
            ),
        }
    }

    /// Explain a driver error from a connection to this target (e.g. from a
    /// pool the caller manages).
    pub fn explain(&self, err: &tokio_postgres::Error) -> anyhow::Error {
        anyhow!(explain::explain(err, &self.settings, &self.display))
    }
}

/// What tokio-postgres is told: it knows only disable/prefer/require; the
/// checking that verify-ca/verify-full add is done by our certificate
/// verifier. Unix sockets never use TLS (libpq ignores sslmode there).
fn driver_ssl_mode(s: &Settings) -> tokio_postgres::config::SslMode {
    use tokio_postgres::config::SslMode as Driver;
    if s.all_unix() {
        return Driver::Disable;
    }
    match s.sslmode {
        SslMode::Disable | SslMode::Allow => Driver::Disable,
        SslMode::Prefer => Driver::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Driver::Require,
    }
}

/// `user@host:port/dbname`, never the password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("(default user)");
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                tokio_postgres::config::Host::Tcp(s) => s.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            format!("{host}:{port}")
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost:5432".to_string()
    } else {
        hosts.join(",")
    };
    let db = config.get_dbname().unwrap_or(user);
    format!("{user}@{hosts}/{db}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::for_tests(vars)
    }

    fn args(dsn: Option<&str>) -> ConnArgs {
        ConnArgs {
            dsn: dsn.map(str::to_string),
            connect_timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn application_name_is_pgadvisor_by_default() {
        let t = args(Some("host=h")).resolve_in(&env(&[])).unwrap();
        assert_eq!(t.config.get_application_name(), Some("pgadvisor"));
        let t = args(Some("host=h application_name=mine"))
            .resolve_in(&env(&[]))
            .unwrap();
        assert_eq!(t.config.get_application_name(), Some("mine"));
    }

    #[test]
    fn database_url_used_without_dsn() {
        let e = env(&[("DATABASE_URL", "postgres://u@dbhost:6000/app")]);
        let t = args(None).resolve_in(&e).unwrap();
        assert_eq!(t.display, "u@dbhost:6000/app");
        let t = args(Some("host=other")).resolve_in(&e).unwrap();
        assert_eq!(t.display, "alice@other:5432/alice");
    }

    #[test]
    fn sslmodes_map_to_driver_modes() {
        use tokio_postgres::config::SslMode as D;
        for (mode, want) in [
            ("disable", D::Disable),
            ("allow", D::Disable),
            ("prefer", D::Prefer),
            ("require", D::Require),
            ("verify-full", D::Require),
        ] {
            let t = args(Some(&format!("host=h sslmode={mode}")))
                .resolve_in(&env(&[]))
                .unwrap();
            assert_eq!(t.config.get_ssl_mode(), want, "{mode}");
        }
        // Unix sockets never negotiate TLS.
        let t = args(Some("host=/run/pg sslmode=require"))
            .resolve_in(&env(&[]))
            .unwrap();
        assert_eq!(t.config.get_ssl_mode(), D::Disable);
    }

    #[test]
    fn connect_timeout_precedence() {
        let t = args(Some("host=h")).resolve_in(&env(&[])).unwrap();
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(10))
        );
        let t = args(Some("host=h connect_timeout=3"))
            .resolve_in(&env(&[]))
            .unwrap();
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
    }

    #[test]
    fn nothing_printable_holds_the_password() {
        let a = args(Some("postgres://u:s3cret@h/db"));
        let t = a.resolve_in(&env(&[])).unwrap();
        for text in [format!("{a:?}"), format!("{t:?}"), t.display.clone()] {
            assert!(!text.contains("s3cret"), "{text}");
        }
    }

    #[test]
    fn describe_config() {
        let mut c = tokio_postgres::Config::new();
        c.host("a").host("b").port(1).port(2).user("u").dbname("d");
        assert_eq!(describe(&c), "u@a:1,b:2/d");
    }
}
