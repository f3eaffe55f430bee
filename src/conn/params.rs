//! Parsing of libpq connection strings, both forms libpq accepts:
//! `postgresql://user:pass@host:port,host2/db?sslmode=require` URLs and
//! `host=db1 port=5432 dbname='my db'` keyword/value strings. The result is
//! a flat list of libpq keywords with their values, nothing resolved yet.
//!
//! Error messages name keywords, never values: a connection string can hold
//! a password.

use std::fmt;

/// Keywords pgadvisor understands, spelled as libpq spells them.
pub const KNOWN_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "passfile",
    "dbname",
    "sslmode",
    "sslrootcert",
    "application_name",
    "fallback_application_name",
    "connect_timeout",
    "options",
    "keepalives",
    "keepalives_idle",
    "target_session_attrs",
    "channel_binding",
];

/// libpq keywords pgadvisor recognizes but cannot honour; asking for them is
/// an error rather than a silent downgrade.
const UNSUPPORTED_KEYWORDS: &[(&str, &str)] = &[
    (
        "sslcert",
        "client certificates are not supported; use password authentication",
    ),
    (
        "sslkey",
        "client certificates are not supported; use password authentication",
    ),
    (
        "sslpassword",
        "client certificates are not supported; use password authentication",
    ),
    (
        "service",
        "pg_service.conf services are not supported; spell the settings out",
    ),
    ("gssencmode", "GSSAPI encryption is not supported"),
    ("krbsrvname", "Kerberos is not supported"),
    ("requirepeer", "requirepeer is not supported"),
];

/// A parsed connection string: keywords in the order given (the last
/// occurrence of a keyword wins, as in libpq).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.pairs {
            if k == "password" {
                m.entry(k, &"********");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl Params {
    /// The value of `keyword`, if the string set it (to anything, even empty).
    pub fn get(&self, keyword: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == keyword)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, keyword: &str, value: String) {
        self.pairs.push((keyword.to_string(), value));
    }

    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }
}

/// Why a connection string could not be read. Never carries a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

fn err(msg: impl Into<String>) -> ParseError {
    ParseError(msg.into())
}

/// Parse either form; an empty string is an empty (valid) set of parameters.
pub fn parse(dsn: &str) -> Result<Params, ParseError> {
    let trimmed = dsn.trim();
    let params = if let Some(rest) = trimmed
        .strip_prefix("postgresql://")
        .or_else(|| trimmed.strip_prefix("postgres://"))
    {
        parse_url(rest)?
    } else if trimmed.contains("://") {
        return Err(err(
            "the connection URL must start with postgresql:// or postgres://",
        ));
    } else {
        parse_keyword_value(trimmed)?
    };
    check_keywords(&params)?;
    Ok(params)
}

fn check_keywords(params: &Params) -> Result<(), ParseError> {
    for k in params.keywords() {
        if KNOWN_KEYWORDS.contains(&k) {
            continue;
        }
        if let Some((_, why)) = UNSUPPORTED_KEYWORDS.iter().find(|(u, _)| *u == k) {
            return Err(err(format!("connection option `{k}`: {why}")));
        }
        return Err(err(format!(
            "unknown connection option `{k}` (known: {})",
            KNOWN_KEYWORDS.join(", ")
        )));
    }
    Ok(())
}

/// `key = value` pairs separated by whitespace; values may be single-quoted;
/// a backslash escapes the next character (libpq's conninfo_parse).
fn parse_keyword_value(s: &str) -> Result<Params, ParseError> {
    let mut params = Params::default();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(err(format!(
                "missing \"=\" after `{key}` in the connection string (expected key=value pairs or a postgresql:// URL)"
            )));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        closed = true;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            if !closed {
                return Err(err(format!(
                    "unterminated quoted value for `{key}` in the connection string"
                )));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(err("a value without a keyword in the connection string"));
        }
        params.set(&key, value);
    }
    Ok(params)
}

fn percent_decode(s: &str, what: &str) -> Result<String, ParseError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| err(format!("bad %-escape in the {what} of the connection URL")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| {
        err(format!(
            "the {what} of the connection URL is not valid UTF-8"
        ))
    })
}

/// `[user[:password]@][host[:port][,...]][/dbname][?key=value&...]`
/// (the part after `postgresql://`), as libpq's conninfo_uri_parse reads it.
fn parse_url(rest: &str) -> Result<Params, ParseError> {
    let mut params = Params::default();
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    // The authority ends at the first '/', but a '/' inside [...] cannot occur
    // and '@' may appear only once before it.
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], Some(&before_query[i + 1..])),
        None => (before_query, None),
    };
    let hostlist = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                params.set("user", percent_decode(user, "user name")?);
            }
            if let Some(p) = password {
                params.set("password", percent_decode(p, "password")?);
            }
            hosts
        }
        None => authority,
    };
    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for spec in hostlist.split(',') {
            let (host, port) = if let Some(inner) = spec.strip_prefix('[') {
                let (h, after) = inner.split_once(']').ok_or_else(|| {
                    err("unterminated [IPv6 address] in the host of the connection URL")
                })?;
                let port = match after.strip_prefix(':') {
                    Some(p) => p,
                    None if after.is_empty() => "",
                    None => {
                        return Err(err(
                            "unexpected text after ] in the host of the connection URL",
                        ));
                    }
                };
                (h.to_string(), port)
            } else {
                match spec.rsplit_once(':') {
                    Some((h, p)) => (percent_decode(h, "host")?, p),
                    None => (percent_decode(spec, "host")?, ""),
                }
            };
            hosts.push(host);
            ports.push(percent_decode(port, "port")?);
        }
        if hosts.iter().any(|h| !h.is_empty()) {
            params.set("host", hosts.join(","));
        }
        if ports.iter().any(|p| !p.is_empty()) {
            params.set("port", ports.join(","));
        }
    }
    if let Some(db) = path
        && !db.is_empty()
    {
        params.set("dbname", percent_decode(db, "database name")?);
    }
    if let Some(q) = query {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                err("a query parameter without \"=\" in the connection URL (expected ?key=value&...)")
            })?;
            let k = percent_decode(k, "query parameters")?;
            let v = percent_decode(v, "query parameters")?;
            // JDBC spelling that libpq also accepts.
            if k == "ssl" && v == "true" {
                params.set("sslmode", "require".into());
            } else {
                params.set(&k, v);
            }
        }
    }
    Ok(params)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn kv(p: &Params) -> Vec<(String, String)> {
        p.pairs.clone()
    }

    #[test]
    fn keyword_value_with_quotes_and_escapes() {
        let p = parse(r"host=db1  port = 6432 dbname='my db' password='it\'s' user=a\ b").unwrap();
        assert_eq!(p.get("host"), Some("db1"));
        assert_eq!(p.get("port"), Some("6432"));
        assert_eq!(p.get("dbname"), Some("my db"));
        assert_eq!(p.get("password"), Some("it's"));
        assert_eq!(p.get("user"), Some("a b"));
    }

    #[test]
    fn last_occurrence_wins() {
        let p = parse("dbname=a dbname=b").unwrap();
        assert_eq!(p.get("dbname"), Some("b"));
    }

    #[test]
    fn empty_string_is_no_parameters() {
        assert_eq!(kv(&parse("  ").unwrap()), vec![]);
    }

    #[test]
    fn url_full() {
        let p = parse("postgresql://al%40ice:p%3Ass@db.example.com:6543/app%20db?sslmode=verify-full&application_name=x").unwrap();
        assert_eq!(p.get("user"), Some("al@ice"));
        assert_eq!(p.get("password"), Some("p:ss"));
        assert_eq!(p.get("host"), Some("db.example.com"));
        assert_eq!(p.get("port"), Some("6543"));
        assert_eq!(p.get("dbname"), Some("app db"));
        assert_eq!(p.get("sslmode"), Some("verify-full"));
        assert_eq!(p.get("application_name"), Some("x"));
    }

    #[test]
    fn url_multi_host_ipv6_and_socket() {
        let p = parse("postgres://[::1]:5433,h2/db").unwrap();
        assert_eq!(p.get("host"), Some("::1,h2"));
        assert_eq!(p.get("port"), Some("5433,"));
        let p = parse("postgresql://%2Fvar%2Frun%2Fpostgresql/db").unwrap();
        assert_eq!(p.get("host"), Some("/var/run/postgresql"));
        let p = parse("postgresql:///db?host=/tmp&port=5999").unwrap();
        assert_eq!(p.get("host"), Some("/tmp"));
        assert_eq!(p.get("port"), Some("5999"));
        assert_eq!(p.get("user"), None);
    }

    #[test]
    fn url_ssl_true_means_require() {
        let p = parse("postgres://h/db?ssl=true").unwrap();
        assert_eq!(p.get("sslmode"), Some("require"));
    }

    #[test]
    fn unknown_and_unsupported_keywords_are_errors() {
        let e = parse("host=a bogus=1").unwrap_err();
        assert!(e.0.contains("unknown connection option `bogus`"), "{e}");
        let e = parse("postgres://h/db?sslcert=/x").unwrap_err();
        assert!(e.0.contains("client certificates"), "{e}");
    }

    #[test]
    fn errors_never_echo_values() {
        for bad in [
            "host=a password='s3cret",
            "password s3cret",
            "postgres://u:s3cret%zz@h/db",
            "mysql://u:s3cret@h/db",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.0.contains("s3cret"), "{bad} -> {e}");
        }
    }

    #[test]
    fn debug_redacts_password() {
        let p = parse("user=u password=s3cret").unwrap();
        let d = format!("{p:?}");
        assert!(!d.contains("s3cret") && d.contains("user"), "{d}");
    }
}
