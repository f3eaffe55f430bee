//! From "what the user said" to the settings a connection uses, with libpq's
//! precedence: the connection string (`--dsn`, else `DATABASE_URL`) first,
//! then the `PG*` environment variables for whatever it left unset, then
//! libpq's defaults (local Unix socket, port 5432, the OS user, a database
//! named like the user). A password left unset is looked up in the password
//! file (`~/.pgpass`).
//!
//! Everything here reads the environment through [`Environment`], so tests
//! pass a map instead of mutating the process environment.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::params::{self, Params};
use super::pgpass;

/// libpq's `sslmode`, all six of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// Plain text first; TLS if the server insists.
    Allow,
    /// TLS if the server offers it, else plain text (libpq's default).
    Prefer,
    /// TLS or fail; the certificate is not checked (unless a root CA file is given).
    Require,
    /// TLS, certificate chain checked against the root CAs.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => bail!(
                "invalid sslmode `{other}`: use one of disable, allow, prefer, require, verify-ca, verify-full"
            ),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where a server lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Tcp(String),
    /// Directory holding the server's `.s.PGSQL.<port>` socket.
    Unix(PathBuf),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Tcp(h) => f.write_str(h),
            Host::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Where the password came from: the hint on a failed login depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    ConnectionString,
    Env,
    PasswordFile(PathBuf),
}

/// A password that does not print itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// Fully resolved connection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// One entry per host (libpq's comma-separated host list), each with its port.
    pub hosts: Vec<(Host, u16)>,
    /// Numeric address to connect to instead of resolving the host name.
    pub hostaddr: Option<std::net::IpAddr>,
    pub user: String,
    pub password: Option<Password>,
    pub password_source: Option<PasswordSource>,
    /// The password file consulted (or that would have been), for hints.
    pub passfile: Option<PathBuf>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub application_name: String,
    /// Set by the connection string or PGCONNECT_TIMEOUT; else `--connect-timeout`.
    pub connect_timeout: Option<Duration>,
    pub options: Option<String>,
    pub keepalives: Option<bool>,
    pub keepalives_idle: Option<Duration>,
    pub target_session_attrs: Option<String>,
    pub channel_binding: Option<String>,
    /// Things the user should know (e.g. an ignored password file), printed once.
    pub warnings: Vec<String>,
}

impl Settings {
    /// `user@host:port/dbname` (hosts comma-separated), never the password.
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .map(|(h, p)| match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{p}"),
                h => format!("{h}:{p}"),
            })
            .collect();
        format!("{}@{}/{}", self.user, hosts.join(","), self.dbname)
    }

    /// Every host is a Unix socket: TLS does not apply (libpq ignores sslmode there).
    pub fn all_unix(&self) -> bool {
        self.hosts.iter().all(|(h, _)| matches!(h, Host::Unix(_)))
    }
}

/// The outside world resolution depends on.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub vars: HashMap<String, String>,
    /// The operating-system user name (libpq's default user).
    pub os_user: Option<String>,
    pub home: Option<PathBuf>,
    /// Directories to look for a local server's socket in, in order.
    pub socket_dirs: Vec<PathBuf>,
}

impl Environment {
    /// The real process environment.
    pub fn from_process() -> Environment {
        let vars: HashMap<String, String> = std::env::vars().collect();
        let home = vars
            .get("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Environment {
            os_user: os_user(&vars),
            vars,
            home,
            socket_dirs: vec![PathBuf::from("/var/run/postgresql"), PathBuf::from("/tmp")],
        }
    }

    /// A variable, treating an empty value as unset (as libpq does).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// libpq's default socket directory for `port`: the first candidate
    /// holding that port's socket, else the first that exists, else the last.
    pub fn default_socket_dir(&self, port: u16) -> PathBuf {
        let socket = format!(".s.PGSQL.{port}");
        self.socket_dirs
            .iter()
            .find(|d| d.join(&socket).exists())
            .or_else(|| self.socket_dirs.iter().find(|d| d.is_dir()))
            .or(self.socket_dirs.last())
            .cloned()
            .unwrap_or_else(|| PathBuf::from("/tmp"))
    }
}

/// The effective user's name: /etc/passwd entry for our uid, else $USER.
fn os_user(vars: &HashMap<String, String>) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/proc/self")
            && let Ok(passwd) = std::fs::read_to_string("/etc/passwd")
        {
            let uid = meta.uid().to_string();
            for line in passwd.lines() {
                let fields: Vec<&str> = line.split(':').collect();
                if fields.len() > 2 && fields[2] == uid {
                    return Some(fields[0].to_string());
                }
            }
        }
    }
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| vars.get(*k).filter(|v| !v.is_empty()).cloned())
}

/// The connection string the user gave: `--dsn`, else `DATABASE_URL`.
pub fn connection_string<'a>(dsn: Option<&'a str>, env: &'a Environment) -> &'a str {
    match dsn {
        Some(d) => d,
        None => env.var("DATABASE_URL").unwrap_or(""),
    }
}

/// Resolve a connection string against the environment.
pub fn resolve(dsn: &str, env: &Environment) -> Result<Settings> {
    let params = params::parse(dsn).context("cannot read the connection string")?;
    resolve_params(&params, env)
}

fn pick<'a>(params: &'a Params, env: &'a Environment, key: &str, var: &str) -> Option<&'a str> {
    params
        .get(key)
        .filter(|v| !v.is_empty())
        .or_else(|| env.var(var))
}

fn parse_seconds(raw: &str, what: &str) -> Result<Duration> {
    let secs: i64 = raw
        .trim()
        .parse()
        .with_context(|| format!("{what} must be a whole number of seconds, got `{raw}`"))?;
    Ok(Duration::from_secs(secs.max(0) as u64))
}

pub fn resolve_params(params: &Params, env: &Environment) -> Result<Settings> {
    let mut warnings = Vec::new();

    let hostaddr: Option<std::net::IpAddr> = match pick(params, env, "hostaddr", "PGHOSTADDR") {
        Some(a) => Some(
            a.trim()
                .parse()
                .with_context(|| format!("invalid hostaddr `{a}` (expected an IP address)"))?,
        ),
        None => None,
    };

    let host_raw = pick(params, env, "host", "PGHOST");
    let port_raw = pick(params, env, "port", "PGPORT");
    let host_items: Vec<&str> = host_raw.map(|h| h.split(',').collect()).unwrap_or_default();
    let port_items: Vec<&str> = port_raw.map(|p| p.split(',').collect()).unwrap_or_default();
    let n_hosts = host_items.len().max(1);
    if port_items.len() > 1 && port_items.len() != n_hosts {
        bail!(
            "{} ports given for {} hosts: give one port, or one per host",
            port_items.len(),
            n_hosts
        );
    }
    let mut hosts = Vec::with_capacity(n_hosts);
    for i in 0..n_hosts {
        let port_text = match port_items.len() {
            0 => "",
            1 => port_items[0],
            _ => port_items[i],
        }
        .trim();
        let port: u16 = if port_text.is_empty() {
            5432
        } else {
            port_text
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .with_context(|| format!("invalid port `{port_text}` (expected 1-65535)"))?
        };
        let host = match host_items.get(i).map(|h| h.trim()) {
            // hostaddr without host: connect (and name the target) by address.
            None | Some("") if hostaddr.is_some() && n_hosts == 1 => {
                Host::Tcp(hostaddr.map(|a| a.to_string()).unwrap_or_default())
            }
            None | Some("") => Host::Unix(env.default_socket_dir(port)),
            Some(h) if h.starts_with('/') => Host::Unix(PathBuf::from(h)),
            Some(h) => Host::Tcp(h.to_string()),
        };
        hosts.push((host, port));
    }

    let user = match pick(params, env, "user", "PGUSER") {
        Some(u) => u.to_string(),
        None => env.os_user.clone().context(
            "cannot tell which user to connect as: give user= in the connection string or set PGUSER",
        )?,
    };
    let dbname = pick(params, env, "dbname", "PGDATABASE")
        .unwrap_or(&user)
        .to_string();

    let sslmode = SslMode::parse(pick(params, env, "sslmode", "PGSSLMODE").unwrap_or("prefer"))?;
    let sslrootcert = pick(params, env, "sslrootcert", "PGSSLROOTCERT").map(PathBuf::from);

    let application_name = params
        .get("application_name")
        .filter(|v| !v.is_empty())
        .or_else(|| env.var("PGAPPNAME"))
        .or_else(|| params.get("fallback_application_name"))
        .unwrap_or("pgadvisor")
        .to_string();

    let connect_timeout = pick(params, env, "connect_timeout", "PGCONNECT_TIMEOUT")
        .map(|t| parse_seconds(t, "connect_timeout"))
        .transpose()?
        .filter(|d| !d.is_zero());

    let options = pick(params, env, "options", "PGOPTIONS").map(str::to_string);
    let keepalives = match params.get("keepalives") {
        Some("0") => Some(false),
        Some("1") => Some(true),
        Some(other) => bail!("keepalives must be 0 or 1, got `{other}`"),
        None => None,
    };
    let keepalives_idle = params
        .get("keepalives_idle")
        .map(|t| parse_seconds(t, "keepalives_idle"))
        .transpose()?;
    let target_session_attrs =
        pick(params, env, "target_session_attrs", "PGTARGETSESSIONATTRS").map(str::to_string);
    if let Some(t) = &target_session_attrs
        && !matches!(t.as_str(), "any" | "read-write")
    {
        bail!("target_session_attrs `{t}` is not supported: use any or read-write");
    }
    let channel_binding =
        pick(params, env, "channel_binding", "PGCHANNELBINDING").map(str::to_string);
    if let Some(c) = &channel_binding
        && !matches!(c.as_str(), "disable" | "prefer" | "require")
    {
        bail!("invalid channel_binding `{c}`: use disable, prefer or require");
    }

    let passfile = pick(params, env, "passfile", "PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| env.home.as_ref().map(|h| h.join(".pgpass")));

    let (password, password_source) = if let Some(p) = params.get("password") {
        (
            Some(Password(p.to_string())),
            Some(PasswordSource::ConnectionString),
        )
    } else if let Some(p) = env.var("PGPASSWORD") {
        (Some(Password(p.to_string())), Some(PasswordSource::Env))
    } else if let Some(file) = &passfile {
        let (host, port) = &hosts[0];
        let host_for_file = match host {
            // libpq matches socket connections against "localhost".
            Host::Unix(_) => "localhost".to_string(),
            Host::Tcp(h) => h.clone(),
        };
        match pgpass::lookup(file, &host_for_file, *port, &dbname, &user) {
            Ok(Some(p)) => (
                Some(Password(p)),
                Some(PasswordSource::PasswordFile(file.clone())),
            ),
            Ok(None) => (None, None),
            Err(warning) => {
                warnings.push(warning);
                (None, None)
            }
        }
    } else {
        (None, None)
    };

    Ok(Settings {
        hosts,
        hostaddr,
        user,
        password,
        password_source,
        passfile,
        dbname,
        sslmode,
        sslrootcert,
        application_name,
        connect_timeout,
        options,
        keepalives,
        keepalives_idle,
        target_session_attrs,
        channel_binding,
        warnings,
    })
}

#[cfg(test)]
impl Environment {
    /// A fixed environment for unit tests: these variables, OS user `alice`,
    /// no home directory and a socket directory that does not exist.
    pub(crate) fn for_tests(vars: &[(&str, &str)]) -> Environment {
        Environment {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            os_user: Some("alice".into()),
            home: None,
            socket_dirs: vec![PathBuf::from("/nonexistent/pgadvisor-test-socket-dir")],
        }
    }
}

/// The default root CA file libpq looks for: `~/.postgresql/root.crt`.
pub fn default_root_cert(env: &Environment) -> Option<PathBuf> {
    env.home
        .as_ref()
        .map(|h| h.join(".postgresql").join("root.crt"))
        .filter(|p| Path::new(p).is_file())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::for_tests(vars)
    }

    #[test]
    fn libpq_defaults_unix_socket_os_user() {
        let s = resolve("", &env(&[])).unwrap();
        assert_eq!(
            s.hosts,
            vec![(
                Host::Unix("/nonexistent/pgadvisor-test-socket-dir".into()),
                5432
            )]
        );
        assert_eq!(s.user, "alice");
        assert_eq!(s.dbname, "alice");
        assert_eq!(s.sslmode, SslMode::Prefer);
        assert_eq!(s.application_name, "pgadvisor");
        assert_eq!(s.password, None);
        assert_eq!(s.connect_timeout, None);
    }

    #[test]
    fn pg_variables_fill_what_the_string_leaves_unset() {
        let e = env(&[
            ("PGHOST", "envhost"),
            ("PGPORT", "6000"),
            ("PGUSER", "bob"),
            ("PGPASSWORD", "pw-from-env"),
            ("PGDATABASE", "envdb"),
            ("PGSSLMODE", "require"),
            ("PGAPPNAME", "myapp"),
        ]);
        let s = resolve("host=dsnhost dbname=dsndb", &e).unwrap();
        assert_eq!(s.hosts, vec![(Host::Tcp("dsnhost".into()), 6000)]);
        assert_eq!(s.user, "bob");
        assert_eq!(s.dbname, "dsndb");
        assert_eq!(s.sslmode, SslMode::Require);
        assert_eq!(s.application_name, "myapp");
        assert_eq!(s.password, Some(Password("pw-from-env".into())));
        assert_eq!(s.password_source, Some(PasswordSource::Env));
    }

    #[test]
    fn connection_string_beats_environment() {
        let e = env(&[
            ("PGHOST", "envhost"),
            ("PGPASSWORD", "env"),
            ("PGAPPNAME", "envapp"),
        ]);
        let s = resolve(
            "postgres://u:dsnpw@h:7000/d?sslmode=disable&application_name=explicit",
            &e,
        )
        .unwrap();
        assert_eq!(s.hosts, vec![(Host::Tcp("h".into()), 7000)]);
        assert_eq!(s.password, Some(Password("dsnpw".into())));
        assert_eq!(s.password_source, Some(PasswordSource::ConnectionString));
        assert_eq!(s.sslmode, SslMode::Disable);
        assert_eq!(s.application_name, "explicit");
    }

    #[test]
    fn fallback_application_name_loses_to_pgappname() {
        let s = resolve(
            "fallback_application_name=fb",
            &env(&[("PGAPPNAME", "envapp")]),
        )
        .unwrap();
        assert_eq!(s.application_name, "envapp");
        let s = resolve("fallback_application_name=fb", &env(&[])).unwrap();
        assert_eq!(s.application_name, "fb");
    }

    #[test]
    fn dsn_flag_beats_database_url() {
        let e = env(&[("DATABASE_URL", "postgres://fromurl/db")]);
        assert_eq!(connection_string(Some("host=flag"), &e), "host=flag");
        assert_eq!(connection_string(None, &e), "postgres://fromurl/db");
        let empty = env(&[("DATABASE_URL", "")]);
        assert_eq!(connection_string(None, &empty), "");
    }

    #[test]
    fn host_list_with_ports() {
        let s = resolve("host=a,b,/sock port=1,2,3", &env(&[])).unwrap();
        assert_eq!(
            s.hosts,
            vec![
                (Host::Tcp("a".into()), 1),
                (Host::Tcp("b".into()), 2),
                (Host::Unix("/sock".into()), 3)
            ]
        );
        let s = resolve("host=a,b port=9", &env(&[])).unwrap();
        assert_eq!(s.hosts[1], (Host::Tcp("b".into()), 9));
        assert!(resolve("host=a,b port=1,2,3", &env(&[])).is_err());
        assert_eq!(s.describe(), "alice@a:9,b:9/alice");
    }

    #[test]
    fn bad_values_are_named() {
        let e = resolve("sslmode=maybe", &env(&[])).unwrap_err();
        assert!(format!("{e:#}").contains("invalid sslmode `maybe`"));
        let e = resolve("port=99999", &env(&[])).unwrap_err();
        assert!(format!("{e:#}").contains("invalid port `99999`"));
        let e = resolve("", &env(&[("PGCONNECT_TIMEOUT", "soon")])).unwrap_err();
        assert!(format!("{e:#}").contains("connect_timeout"));
    }

    #[test]
    fn connect_timeout_from_string_or_env() {
        let s = resolve("connect_timeout=3", &env(&[("PGCONNECT_TIMEOUT", "9")])).unwrap();
        assert_eq!(s.connect_timeout, Some(Duration::from_secs(3)));
        let s = resolve("", &env(&[("PGCONNECT_TIMEOUT", "9")])).unwrap();
        assert_eq!(s.connect_timeout, Some(Duration::from_secs(9)));
    }

    #[test]
    fn default_socket_dir_prefers_the_one_with_the_socket() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join(".s.PGSQL.5999"), "").unwrap();
        let e = Environment {
            socket_dirs: vec![a.path().into(), b.path().into()],
            ..env(&[])
        };
        assert_eq!(e.default_socket_dir(5999), b.path());
        assert_eq!(e.default_socket_dir(5432), a.path());
    }

    #[test]
    fn password_from_pgpass_when_unset() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "h:5432:db:u:from-file\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let e = env(&[("PGPASSFILE", file.to_str().unwrap())]);
        let s = resolve("host=h user=u dbname=db", &e).unwrap();
        assert_eq!(s.password, Some(Password("from-file".into())));
        assert_eq!(
            s.password_source,
            Some(PasswordSource::PasswordFile(file.clone()))
        );
        // PGPASSWORD wins over the file.
        let e = env(&[
            ("PGPASSFILE", file.to_str().unwrap()),
            ("PGPASSWORD", "env"),
        ]);
        let s = resolve("host=h user=u dbname=db", &e).unwrap();
        assert_eq!(s.password_source, Some(PasswordSource::Env));
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let s = resolve("password=s3cret", &env(&[])).unwrap();
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
