//! `low-cache-hit-ratio`: a query reads too much of its data from outside shared buffers.

use serde::{Deserialize, Serialize};

use super::{Common, Ctx, Rule, RuleDoc};
use crate::check::config::Config;
use crate::check::finding::{Hit, Severity};
use crate::normalize::Fingerprint;
use crate::shapes::QueryShape;

pub const DOC: RuleDoc = RuleDoc {
    id: "low-cache-hit-ratio",
    summary: "A query finds too little of its data in shared buffers",
    what: "Fires when a query shape's shared-buffer hit ratio, `shared_blks_hit / (shared_blks_hit \
+ shared_blks_read)`, is below `min_hit_pct` percent, once it has touched at least `min_blocks` \
blocks (8 kB each by default) so that small queries on a cold cache do not fire.",
    why: "A web application's working set should live in memory: a healthy OLTP database serves \
99% or more of its block accesses from shared buffers. A query that keeps reading from the \
operating system (or disk) is either scanning far more data than it returns or competing with \
something that evicts its pages; both get worse as data grows.",
    example: "```text\nwarning[low-cache-hit-ratio] shared-buffer hit ratio 71.4% is under 95.0% \
(182113 of 637402 blocks read outside shared buffers)\n```",
    fix: "First make the query touch fewer blocks (an index that matches its filter and order: \
`pgadvisor advise`). If it already reads only what it needs, the working set does not fit: raise \
`shared_buffers` (25% of RAM is the usual start) or move big scans (reports, exports) to a \
replica.",
    references: &[
        "[pg_stat_statements](https://www.postgresql.org/docs/current/pgstatstatements.html)",
        "[shared_buffers](https://www.postgresql.org/docs/current/runtime-config-resource.html#GUC-SHARED-BUFFERS)",
    ],
};

/// `rules: low-cache-hit-ratio:` in the rules YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub enabled: bool,
    pub severity: Severity,
    pub ignore: Vec<Fingerprint>,
    /// Hit ratio under which it fires, percent.
    pub min_hit_pct: f64,
    /// Shared blocks (hit + read) the shape must have touched to be judged.
    pub min_blocks: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            severity: Severity::Warning,
            ignore: Vec::new(),
            min_hit_pct: 95.0,
            min_blocks: 10_000,
        }
    }
}

pub struct LowCacheHitRatio;

impl Rule for LowCacheHitRatio {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }
    fn common<'a>(&self, c: &'a Config) -> Common<'a> {
        let s = &c.rules.low_cache_hit_ratio;
        Common {
            enabled: s.enabled,
            severity: s.severity,
            ignore: &s.ignore,
        }
    }
    fn check(&self, c: &Config, ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
        check(&c.rules.low_cache_hit_ratio, ctx, shape)
    }
}

pub fn check(s: &Settings, _ctx: &Ctx<'_>, shape: &QueryShape) -> Option<Hit> {
    let touched = shape.shared_blks_hit.saturating_add(shape.shared_blks_read);
    if touched <= 0 || touched < s.min_blocks {
        return None;
    }
    let hit_pct = 100.0 * shape.shared_blks_hit as f64 / touched as f64;
    if hit_pct >= s.min_hit_pct {
        return None;
    }
    Some(
        Hit::new(
            format!(
                "shared-buffer hit ratio {hit_pct:.1}% is under {:.1}% ({} of {} blocks read \
                 outside shared buffers)",
                s.min_hit_pct, shape.shared_blks_read, touched
            ),
            "make it touch fewer blocks (an index matching its filter: pgadvisor advise); \
             otherwise the working set does not fit shared_buffers",
        )
        .with("hit_pct", hit_pct)
        .with("min_hit_pct", s.min_hit_pct)
        .with("shared_blks_hit", shape.shared_blks_hit as f64)
        .with("shared_blks_read", shape.shared_blks_read as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::rules::fixture::{ctx, shape};

    #[test]
    fn low_cache_hit_ratio_ok() {
        let s = Settings::default();
        let mut sh = shape("SELECT 1", 100, 2.0);
        sh.shared_blks_hit = 99_000;
        sh.shared_blks_read = 1_000;
        assert_eq!(check(&s, &ctx(1e6), &sh), None);
        // All misses, but too few blocks to judge.
        sh.shared_blks_hit = 0;
        sh.shared_blks_read = 500;
        assert_eq!(check(&s, &ctx(1e6), &sh), None);
    }

    #[test]
    fn low_cache_hit_ratio_err() {
        let mut sh = shape("SELECT 1", 100, 2.0);
        sh.shared_blks_hit = 75_000;
        sh.shared_blks_read = 25_000;
        let hit = check(&Settings::default(), &ctx(1e6), &sh).expect("fires");
        assert_eq!(
            hit.message,
            "shared-buffer hit ratio 75.0% is under 95.0% (25000 of 100000 blocks read outside \
             shared buffers)"
        );
    }
}
