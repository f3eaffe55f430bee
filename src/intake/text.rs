//! Reading input files as text, with the errors a user can act on: an
//! empty file and a file that is not UTF-8 are named as such, never a panic
//! or a parser's confused message further down.

use std::path::Path;

use anyhow::{Result, bail};

/// Read `path` as UTF-8 text. `what` names what the file should be (for
/// the message); an empty (or whitespace-only) file is an error.
pub fn read_text(path: &Path, what: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {e}. Check the path and that this user may read the file.",
            path.display()
        )
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count();
            bail!(
                "{} is not UTF-8 text (invalid byte at offset {at}, line {line}); pgadvisor \
                 reads {what} as UTF-8. Re-export it with a UTF-8 client encoding \
                 (PGCLIENTENCODING=UTF8 psql …), or convert it first, e.g. \
                 `iconv -f LATIN1 -t UTF-8 {} > converted`.",
                path.display(),
                path.display()
            );
        }
    };
    if text.trim().is_empty() {
        bail!(
            "{} is empty: expected {what}. Check that the export or log copy finished \
             (an interrupted \\copy or a rotated-away log leaves an empty file) and point at the \
             file that holds the data.",
            path.display()
        );
    }
    Ok(text)
}
