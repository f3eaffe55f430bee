//! Turning a failed connection attempt into one paragraph a DBA can act on:
//! what failed, against which target (`user@host:port/db`, never the
//! password), and what to check or run next.

use std::io;

use tokio_postgres::error::SqlState;

use super::resolve::{Host, PasswordSource, Settings, SslMode};

/// The whole chain of causes as one line (tokio-postgres' Display shows only
/// the outermost kind).
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ").replace('\n', " ")
}

fn find_io<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a io::Error> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cur = e.source();
    }
    None
}

fn pg_isready_hint(s: &Settings) -> String {
    let (host, port) = &s.hosts[0];
    format!("pg_isready -h {host} -p {port}")
}

fn password_hint(s: &Settings) -> String {
    match &s.password_source {
        Some(PasswordSource::ConnectionString) => {
            "check the password in the connection string (--dsn / DATABASE_URL)".into()
        }
        Some(PasswordSource::Env) => "check PGPASSWORD".into(),
        Some(PasswordSource::PasswordFile(f)) => {
            format!(
                "check the matching line of the password file {}",
                f.display()
            )
        }
        None => "check PGPASSWORD / ~/.pgpass".into(),
    }
}

/// A failed statement as the server reported it: its message and SQLSTATE,
/// then the detail and hint when there are any; other errors as they print.
pub fn server_error(err: &tokio_postgres::Error) -> String {
    let Some(db) = err.as_db_error() else {
        return err.to_string();
    };
    let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
    if let Some(d) = db.detail() {
        s.push_str(&format!("; detail: {d}"));
    }
    if let Some(h) = db.hint() {
        s.push_str(&format!("; hint: {h}"));
    }
    s
}

/// One paragraph for a failed connection to `s` (`target` is its description).
pub fn explain(err: &tokio_postgres::Error, s: &Settings, target: &str) -> String {
    let cause = chain_text(err);
    if let Some(db) = err.as_db_error() {
        let said = db.message();
        let code = db.code();
        return if *code == SqlState::INVALID_PASSWORD {
            format!(
                "cannot connect to PostgreSQL at {target}: password authentication failed for user \"{}\". \
                 Fix: {}; the role must exist and have that password.",
                s.user,
                password_hint(s)
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            format!(
                "cannot connect to PostgreSQL at {target}: database \"{}\" does not exist. \
                 Fix: check dbname= / PGDATABASE (without one, the database is named like the user); \
                 list the databases with: psql -l -h {} -p {} -U {}.",
                s.dbname, s.hosts[0].0, s.hosts[0].1, s.user
            )
        } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            format!(
                "cannot connect to PostgreSQL at {target}: the server refused the login ({said}). \
                 Fix: the server's pg_hba.conf has no entry allowing this user, database, address and \
                 TLS state; ask its DBA, or try sslmode=require if it only allows TLS connections."
            )
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            format!(
                "cannot connect to PostgreSQL at {target}: the server has no free connection slot ({said}). \
                 Fix: retry later, close idle sessions, or connect through a pooler."
            )
        } else if *code == SqlState::CANNOT_CONNECT_NOW {
            format!(
                "cannot connect to PostgreSQL at {target}: the server is starting up, shutting down or in \
                 recovery ({said}). Fix: wait and retry; check {}.",
                pg_isready_hint(s)
            )
        } else {
            format!("cannot connect to PostgreSQL at {target}: the server said: {said}.")
        };
    }
    if cause.contains("password missing") {
        return format!(
            "cannot connect to PostgreSQL at {target}: the server asks for a password for user \"{}\" and \
             none was given. Fix: set PGPASSWORD, add a line host:port:database:user:password to \
             ~/.pgpass (mode 0600, or PGPASSFILE), or put the password in the connection string.",
            s.user
        );
    }
    if cause.contains("server does not support TLS") {
        return format!(
            "cannot connect to PostgreSQL at {target}: the server does not accept TLS connections, but \
             sslmode={} requires TLS. Fix: turn on ssl in the server's configuration, or use \
             sslmode=prefer (or disable) if the network path is trusted.",
            s.sslmode.as_str()
        );
    }
    if cause.contains("invalid peer certificate")
        || cause.contains("certificate") && cause.contains("TLS")
    {
        return format!(
            "cannot connect to PostgreSQL at {target}: the server's TLS certificate was rejected ({cause}). \
             Fix: give the CA that signed it with sslrootcert=/path/ca.crt (or PGSSLROOTCERT); \
             verify-full also needs the host name to match the certificate; sslmode=require encrypts \
             without checking the certificate."
        );
    }
    if cause.contains("failed to lookup address") || cause.contains("Name or service not known") {
        let hosts: Vec<String> = s
            .hosts
            .iter()
            .filter_map(|(h, _)| match h {
                Host::Tcp(name) => Some(name.clone()),
                Host::Unix(_) => None,
            })
            .collect();
        return format!(
            "cannot connect to PostgreSQL at {target}: unknown host {}. Fix: check the host name \
             (host= in the connection string, or PGHOST) and DNS.",
            hosts.join(", ")
        );
    }
    if let Some(io) = find_io(err) {
        match (io.kind(), &s.hosts[0].0) {
            (io::ErrorKind::ConnectionRefused, Host::Tcp(_)) => {
                return format!(
                    "cannot connect to PostgreSQL at {target}: connection refused, nothing listens there. \
                     Fix: is the server running, on this host and port? Check with: {}.",
                    pg_isready_hint(s)
                );
            }
            (io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused, Host::Unix(dir)) => {
                return format!(
                    "cannot connect to PostgreSQL at {target}: no server socket {}/.s.PGSQL.{}. \
                     Fix: is the server running locally? Check with: {}; for a remote server give \
                     host= (or PGHOST).",
                    dir.display(),
                    s.hosts[0].1,
                    pg_isready_hint(s)
                );
            }
            (io::ErrorKind::TimedOut, _) => {
                return timeout_text(s, target);
            }
            (io::ErrorKind::PermissionDenied, _) => {
                return format!(
                    "cannot connect to PostgreSQL at {target}: permission denied ({cause}). \
                     Fix: check that this user may open the server's socket directory."
                );
            }
            _ => {}
        }
    }
    if cause.contains("timeout") || cause.contains("timed out") {
        return timeout_text(s, target);
    }
    let tls_hint = if matches!(s.sslmode, SslMode::Prefer | SslMode::Allow) {
        ""
    } else {
        " (sslmode is set: check that the server speaks TLS)"
    };
    format!(
        "cannot connect to PostgreSQL at {target}: {cause}. Fix: check the connection settings \
         (--dsn, DATABASE_URL, PG* variables){tls_hint}; {} tells whether the server answers.",
        pg_isready_hint(s)
    )
}

pub fn timeout_text(s: &Settings, target: &str) -> String {
    format!(
        "cannot connect to PostgreSQL at {target}: no answer in time. Fix: check the host, port and \
         firewall ({}); raise --connect-timeout (or connect_timeout=) on a slow network.",
        pg_isready_hint(s)
    )
}
