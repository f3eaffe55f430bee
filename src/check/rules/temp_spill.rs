//! `temp-spill`: a query writes temporary files (sorts or hashes that did not fit in work_mem).

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity, calls};
use crate::normalize::Fingerprint;
use crate::output::bytes;
use crate::shapes::QueryShape;

/// PostgreSQL's default block size; pg_stat_statements counts temp blocks in it.
const BLOCK_BYTES: f64 = 8192.0;

pub const DOC: RuleDoc = RuleDoc {
    id: "temp-spill",
    summary: "A query spills sorts or hashes to temporary files",
    what: "Fires when a query shape writes more than `max_temp_kb_per_call` kilobytes of \
temporary files per call on average (`temp_blks_written / calls`, 8 kB blocks), once it has \
run at least `min_calls` times. The shipped threshold is 0: any spill on the request path fires.",
    why: "A sort, hash join or hash aggregate that does not fit in `work_mem` writes its data to \
disk and reads it back, often ten times slower than in memory, and the disk traffic slows every \
other query. In a web application's short queries a spill usually means the query handles far \
more rows than the page shows.",
    example: "```text\nwarning[temp-spill] writes 12.3 MB of temporary files per call (40 calls, \
1575 blocks per call)\n```",
    fix: "Reduce the rows that reach the sort or hash: filter earlier, paginate with keyset \
pagination instead of large OFFSETs, or give the ORDER BY an index so no sort is needed. If the \
query truly needs it, raise `work_mem` for that role or transaction (`SET LOCAL work_mem`) rather \
than globally. `log_temp_files = 0` shows which statements spill.",
    references: &[
        "[work_mem](https://www.postgresql.org/docs/current/runtime-config-resource.html#GUC-WORK-MEM)",
        "[log_temp_files](https://www.postgresql.org/docs/current/runtime-config-logging.html#GUC-LOG-TEMP-FILES)",
    ],
};

/// `rules: temp-spill:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    pub ignore: Vec<Fingerprint>,
    /// Temporary file kilobytes written per call above which it fires.
    pub max_temp_kb_per_call: f64,
    pub min_calls: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Warning,
            ignore: Vec::new(),
            max_temp_kb_per_call: 0.0,
            min_calls: 1,
        }
    }
}

pub struct TempSpill;

impl Rule for TempSpill {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.temp_spill;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.temp_spill, ctx, shape)
    }
}

pub fn check(s: &Settings, _ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    if shape.calls <= 0 || shape.calls < s.min_calls || shape.temp_blks_written <= 0 {
        return None;
    }
    let blocks_per_call = shape.temp_blks_written as f64 / shape.calls as f64;
    let kb_per_call = blocks_per_call * BLOCK_BYTES / 1024.0;
    if kb_per_call <= s.max_temp_kb_per_call {
        return None;
    }
    Some(
        Hit::new(
            format!(
                "writes {} of temporary files per call ({}, {blocks_per_call:.0} blocks per call)",
                bytes((blocks_per_call * BLOCK_BYTES) as u64),
                calls(shape.calls)
            ),
            "reduce the rows reaching the sort/hash (filter, keyset pagination, an index for \
             the ORDER BY) or raise work_mem for this role/transaction",
        )
        .with("temp_kb_per_call", kb_per_call)
        .with("max_temp_kb_per_call", s.max_temp_kb_per_call)
        .with("temp_blks_written", shape.temp_blks_written as f64)
        .with("calls", shape.calls as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::fixture::{ctx, shape};

    #[test]
    fn temp_spill_ok() {
        let sh = shape("SELECT 1", 100, 2.0);
        assert_eq!(check(&Settings::default(), &ctx(1e6), &sh), None);
        let mut sh = sh;
        sh.temp_blks_written = 100; // 8 kB per call
        let s = Settings {
            max_temp_kb_per_call: 64.0,
            ..Settings::default()
        };
        assert_eq!(check(&s, &ctx(1e6), &sh), None);
    }

    #[test]
    fn temp_spill_err() {
        let mut sh = shape("SELECT 1", 40, 80.0);
        sh.temp_blks_written = 40 * 1575;
        let hit = check(&Settings::default(), &ctx(1e6), &sh).expect("fires");
        assert_eq!(
            hit.message,
            "writes 12.3 MB of temporary files per call (40 calls, 1575 blocks per call)"
        );
        assert_eq!(hit.evidence["temp_kb_per_call"], 1575.0 * 8.0);
    }
}
