//! Where Redis is and how to talk to it: `--redis URL` or `REDIS_URL`
//! (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS; several
//! comma-separated URLs are seed nodes of one cluster), connection with a
//! timeout, and error messages that say what failed and what to do — never
//! with the password in them.

use std::time::Duration;

use anyhow::{Result, anyhow};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo};

/// Redis connection flags shared by every `cache` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct RedisArgs {
    /// Redis URL: redis://[user:password@]host:port[/db], rediss:// for TLS.
    /// Several comma-separated URLs are seed nodes of one cluster. A node of
    /// a Redis Cluster is detected and the whole cluster is used.
    /// Default: $REDIS_URL, then redis://127.0.0.1:6379/.
    #[arg(
        long = "redis",
        env = "REDIS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub redis: Option<String>,
    /// Give up connecting to a Redis node after this long; also the limit
    /// for one reply (e.g. 5s).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub redis_timeout: Duration,
}

impl Default for RedisArgs {
    fn default() -> Self {
        RedisArgs {
            redis: None,
            redis_timeout: Duration::from_secs(10),
        }
    }
}

/// Resolved seed nodes, ready to connect.
#[derive(Clone)]
pub struct RedisTarget {
    pub seeds: Vec<ConnectionInfo>,
    pub timeout: Duration,
}

impl RedisArgs {
    /// Parse the URL list; `db` (from `--db`) overrides a database in the URL.
    pub fn resolve(&self, db: Option<i64>) -> Result<RedisTarget> {
        let raw = self
            .redis
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "redis://127.0.0.1:6379/".to_string());
        let mut seeds = Vec::new();
        for (i, url) in raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            // The parser's own error text may quote the URL: not shown.
            let mut info = url.into_connection_info().map_err(|_| {
                anyhow!(
                    "cannot parse Redis URL #{} (expected redis://[user:password@]host:port[/db] \
                     or rediss:// for TLS); check --redis / REDIS_URL",
                    i + 1
                )
            })?;
            if let Some(db) = db {
                let settings = info.redis_settings().clone().set_db(db);
                info = info.set_redis_settings(settings);
            }
            seeds.push(info);
        }
        if seeds.is_empty() {
            anyhow::bail!("no Redis URL given; pass --redis URL or set REDIS_URL");
        }
        Ok(RedisTarget {
            seeds,
            timeout: self.redis_timeout,
        })
    }
}

/// `host:port` of a node.
pub fn addr_name(info: &ConnectionInfo) -> String {
    match info.addr() {
        ConnectionAddr::Tcp(h, p) => format!("{h}:{p}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port}"),
        ConnectionAddr::Unix(p) => p.display().to_string(),
        other => format!("{other:?}"),
    }
}

/// `user@host:port/db (TLS)` without the password.
pub fn describe(info: &ConnectionInfo) -> String {
    let s = info.redis_settings();
    let user = s.username().map(|u| format!("{u}@")).unwrap_or_default();
    let tls = if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
        " (TLS)"
    } else {
        ""
    };
    format!("{user}{}/{}{tls}", addr_name(info), s.db())
}

/// The same settings (TLS, user, password, db) for another host and port,
/// as a cluster's topology names its nodes.
pub fn with_addr(seed: &ConnectionInfo, host: &str, port: u16) -> ConnectionInfo {
    let addr = match seed.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host: host.to_string(),
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host.to_string(), port),
    };
    seed.clone().set_addr(addr)
}

/// A client for `info` with TCP_NODELAY: pipelines are many small writes,
/// and without it Nagle's algorithm and delayed ACKs stall each round trip
/// by up to 40 ms.
fn client(info: &ConnectionInfo) -> redis::RedisResult<redis::Client> {
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    redis::Client::open(info.clone().set_tcp_settings(tcp))
}

/// Open a multiplexed connection (commands from many tasks share it and
/// are pipelined on the wire).
pub async fn connect(info: &ConnectionInfo, timeout: Duration) -> Result<MultiplexedConnection> {
    let client = client(info).map_err(|e| {
        anyhow!(
            "invalid Redis settings for {}: {}",
            describe(info),
            e.kind_str()
        )
    })?;
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
        .map_err(|e| explain(&e, info, timeout))
}

/// Open a blocking connection (for a thread that writes whole packed
/// pipelines), with `timeout` on connecting, reading and writing. Errors are
/// Redis's own so callers can tell a lost connection (see
/// [`is_connection_lost`]) from a refusal to run a command.
pub fn connect_blocking(
    info: &ConnectionInfo,
    timeout: Duration,
) -> redis::RedisResult<redis::Connection> {
    let conn = client(info)?.get_connection_with_timeout(timeout)?;
    conn.set_read_timeout(Some(timeout))?;
    conn.set_write_timeout(Some(timeout))?;
    Ok(conn)
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

/// A connection error in words a person on call can act on.
pub fn explain(e: &redis::RedisError, info: &ConnectionInfo, timeout: Duration) -> anyhow::Error {
    let who = describe(info);
    let code = e.code().unwrap_or("");
    if e.is_connection_refusal() {
        anyhow!(
            "cannot connect to Redis at {who}: connection refused. Is redis-server running and \
             listening there? Check --redis / REDIS_URL"
        )
    } else if e.kind() == ErrorKind::AuthenticationFailed || code == "WRONGPASS" {
        anyhow!(
            "Redis at {who} rejected the credentials (wrong username or password). Fix the \
             user:password in --redis / REDIS_URL"
        )
    } else if code == "NOAUTH" {
        anyhow!(
            "Redis at {who} requires authentication. Put the password in the URL: \
             redis://[user]:PASSWORD@host:port"
        )
    } else if e.to_string().contains("not allowed in cluster mode") {
        anyhow!(
            "{who} is a Redis Cluster node and a cluster has only database 0: drop --db / the \
             /N at the end of the URL (the cluster is detected and used as a whole)"
        )
    } else if e.is_timeout() {
        anyhow!(
            "Redis at {who} did not answer within {}; check the address, firewalls, or raise \
             --redis-timeout",
            humantime::format_duration(timeout)
        )
    } else if e.to_string().contains("invalid peer certificate") {
        anyhow!(
            "cannot reach Redis at {who}: its TLS certificate is not trusted ({e}). Add the CA to \
             the system trust store, or point SSL_CERT_FILE at a PEM file with it"
        )
    } else if e.is_io_error() {
        anyhow!("cannot reach Redis at {who}: {e}")
    } else {
        anyhow!("Redis at {who}: {e}")
    }
}

/// Whether a command error means the connection is gone (worth a reconnect
/// and a retry) rather than a refusal by the server.
pub fn is_connection_lost(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_urls_and_db_override() {
        let a = RedisArgs {
            redis: Some("redis://u:secret@h1:7000/3, redis://h2:7001".into()),
            ..Default::default()
        };
        let t = a.resolve(Some(5)).expect("parses");
        assert_eq!(t.seeds.len(), 2);
        assert_eq!(describe(&t.seeds[0]), "u@h1:7000/5");
        assert_eq!(addr_name(&t.seeds[1]), "h2:7001");
        let other = with_addr(&t.seeds[0], "10.0.0.9", 7002);
        assert_eq!(describe(&other), "u@10.0.0.9:7002/5");
        assert_eq!(other.redis_settings().password(), Some("secret"));
    }

    #[test]
    fn bad_url_does_not_echo_password() {
        let a = RedisArgs {
            redis: Some("http://u:hunter2@h".into()),
            ..Default::default()
        };
        let err = a
            .resolve(None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("cannot parse Redis URL #1"), "{err}");
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn tls_is_kept_for_cluster_nodes() {
        let a = RedisArgs {
            redis: Some("rediss://h1:7000".into()),
            ..Default::default()
        };
        let t = a.resolve(None).expect("parses");
        let other = with_addr(&t.seeds[0], "h2", 7001);
        assert!(describe(&other).ends_with("(TLS)"));
    }
}
