//! The libpq password file (`~/.pgpass`, or `PGPASSFILE` / `passfile=`):
//! lines of `hostname:port:database:username:password`, `*` matching
//! anything, `\:` and `\\` escaping. Like libpq, a file that others can read
//! is ignored (with a warning) rather than trusted.

use std::path::Path;

/// The password for this target, if the file has a matching line.
/// `Err` is a warning for the user (the file exists but cannot be used).
pub fn lookup(
    file: &Path,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Result<Option<String>, String> {
    let meta = match std::fs::metadata(file) {
        Ok(m) => m,
        Err(_) => return Ok(None),
    };
    if !meta.is_file() {
        return Err(format!(
            "password file {} is not a plain file; ignoring it",
            file.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "password file {} has group or world access; ignoring it (chmod 0600 {})",
                file.display(),
                file.display()
            ));
        }
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read password file {}: {e}", file.display()))?;
    Ok(find(&text, host, &port.to_string(), dbname, user))
}

/// First matching line wins (libpq).
pub fn find(text: &str, host: &str, port: &str, dbname: &str, user: &str) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, want: &str| field == "*" || field == want;
        if matches(&fields[0], host)
            && matches(&fields[1], port)
            && matches(&fields[2], dbname)
            && matches(&fields[3], user)
        {
            // The password is the rest of the line (it may contain ':').
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next()
                    && let Some(last) = fields.last_mut()
                {
                    last.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(last) = fields.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn first_matching_line_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    other:5432:*:u:nope\n\
                    db1:*:app:u:pa\\:ss:word\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            find(text, "db1", "6432", "app", "u"),
            Some("pa:ss:word".into())
        );
        assert_eq!(find(text, "other", "5432", "x", "u"), Some("nope".into()));
        assert_eq!(find(text, "zzz", "1", "d", "v"), Some("fallback".into()));
        assert_eq!(find("a:1:d:u:p\n", "a", "2", "d", "u"), None);
    }

    #[test]
    fn escaped_colon_in_host_field() {
        assert_eq!(
            find("fe80\\:\\:1:5432:*:*:pw\n", "fe80::1", "5432", "d", "u"),
            Some("pw".into())
        );
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_file_is_ignored_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warning = lookup(&file, "h", 5432, "d", "u").unwrap_err();
        assert!(warning.contains("chmod 0600"), "{warning}");
        assert!(!warning.contains("pw\n"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            lookup(&file, "h", 5432, "d", "u").unwrap(),
            Some("pw".into())
        );
        assert_eq!(
            lookup(&dir.path().join("missing"), "h", 5432, "d", "u").unwrap(),
            None
        );
    }
}
