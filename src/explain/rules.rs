//! Finding thresholds: the `explain:` section of the rules YAML (the same
//! file `check` reads), with defaults compiled in. `rules/explain.yaml`
//! spells the defaults out and a test keeps it equal to [`Thresholds::default`].
//! Unknown keys are errors, so a typo never silently keeps a default.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// How bad a finding is: the same severities as `check`, whose
/// `--explain` fails CI on `error`.
pub use crate::check::finding::Severity;

/// All explain rules' settings, keyed by rule id in YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    #[serde(rename = "seq-scan-filter")]
    pub seq_scan_filter: SeqScanFilter,
    #[serde(rename = "row-misestimate")]
    pub row_misestimate: RowMisestimate,
    #[serde(rename = "sort-spill")]
    pub sort_spill: Spill,
    #[serde(rename = "hash-spill")]
    pub hash_spill: Spill,
    #[serde(rename = "nested-loop-inner-scan")]
    pub nested_loop_inner_scan: NestedLoopInnerScan,
    #[serde(rename = "heap-fetches")]
    pub heap_fetches: HeapFetches,
    #[serde(rename = "lossy-bitmap")]
    pub lossy_bitmap: LossyBitmap,
    #[serde(rename = "jit-dominates")]
    pub jit_dominates: JitDominates,
    #[serde(rename = "planning-time")]
    pub planning_time: PlanningTime,
    #[serde(rename = "buffers-read")]
    pub buffers_read: BuffersRead,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeqScanFilter {
    pub enabled: bool,
    pub severity: Severity,
    /// Rows removed by the filter over all loops.
    pub min_rows_removed: f64,
    /// Removed / (removed + kept), 0..1.
    pub min_removed_fraction: f64,
}

impl Default for SeqScanFilter {
    fn default() -> Self {
        SeqScanFilter {
            enabled: true,
            severity: Severity::Error,
            min_rows_removed: 1000.0,
            min_removed_fraction: 0.9,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RowMisestimate {
    pub enabled: bool,
    pub severity: Severity,
    /// Estimate and actual differ by at least this factor.
    pub factor: f64,
    /// Ignore nodes where both numbers (× loops) stay under this.
    pub min_rows: f64,
}

impl Default for RowMisestimate {
    fn default() -> Self {
        RowMisestimate {
            enabled: true,
            severity: Severity::Warning,
            factor: 10.0,
            min_rows: 100.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spill {
    pub enabled: bool,
    pub severity: Severity,
    /// Ignore spills smaller than this many kB on disk.
    pub min_disk_kb: f64,
}

impl Default for Spill {
    fn default() -> Self {
        Spill {
            enabled: true,
            severity: Severity::Warning,
            min_disk_kb: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NestedLoopInnerScan {
    pub enabled: bool,
    pub severity: Severity,
    /// The inner side runs at least this many times…
    pub min_loops: f64,
    /// …examining at least this many rows each time.
    pub min_inner_rows: f64,
}

impl Default for NestedLoopInnerScan {
    fn default() -> Self {
        NestedLoopInnerScan {
            enabled: true,
            severity: Severity::Error,
            min_loops: 2.0,
            min_inner_rows: 1000.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeapFetches {
    pub enabled: bool,
    pub severity: Severity,
    pub min_heap_fetches: f64,
    /// Heap fetches / rows returned.
    pub min_fraction: f64,
}

impl Default for HeapFetches {
    fn default() -> Self {
        HeapFetches {
            enabled: true,
            severity: Severity::Warning,
            min_heap_fetches: 1000.0,
            min_fraction: 0.1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossyBitmap {
    pub enabled: bool,
    pub severity: Severity,
    pub min_lossy_blocks: f64,
}

impl Default for LossyBitmap {
    fn default() -> Self {
        LossyBitmap {
            enabled: true,
            severity: Severity::Warning,
            min_lossy_blocks: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JitDominates {
    pub enabled: bool,
    pub severity: Severity,
    /// JIT total / execution time, 0..1.
    pub min_share: f64,
    pub min_jit_ms: f64,
}

impl Default for JitDominates {
    fn default() -> Self {
        JitDominates {
            enabled: true,
            severity: Severity::Warning,
            min_share: 0.3,
            min_jit_ms: 10.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanningTime {
    pub enabled: bool,
    pub severity: Severity,
    /// Planning must also take at least this long to be worth a word.
    pub min_planning_ms: f64,
}

impl Default for PlanningTime {
    fn default() -> Self {
        PlanningTime {
            enabled: true,
            severity: Severity::Info,
            min_planning_ms: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuffersRead {
    pub enabled: bool,
    pub severity: Severity,
    /// shared read / (hit + read), 0..1.
    pub min_read_fraction: f64,
    pub min_read_blocks: f64,
}

impl Default for BuffersRead {
    fn default() -> Self {
        BuffersRead {
            enabled: true,
            severity: Severity::Info,
            min_read_fraction: 0.3,
            min_read_blocks: 1000.0,
        }
    }
}

impl Thresholds {
    /// The `explain:` section of a rules YAML document; defaults for what it omits.
    pub fn from_yaml(text: &str) -> Result<Thresholds> {
        let doc: serde_norway::Value =
            serde_norway::from_str(text).context("the rules file is not valid YAML")?;
        match doc.get("explain") {
            None | Some(serde_norway::Value::Null) => Ok(Thresholds::default()),
            Some(section) => serde_norway::from_value(section.clone()).context(
                "invalid `explain:` section in the rules file (see docs/explain.md for the keys)",
            ),
        }
    }

    /// Read a rules file; `None` gives the compiled-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Thresholds> {
        match path {
            None => Ok(Thresholds::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the rules file {}", p.display()))?;
                Thresholds::from_yaml(&text)
                    .with_context(|| format!("in the rules file {}", p.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_file_matches_the_code() {
        let text = include_str!("../../rules/explain.yaml");
        assert_eq!(
            Thresholds::from_yaml(text).expect("parses"),
            Thresholds::default()
        );
    }

    #[test]
    fn partial_sections_and_typos() {
        let t = Thresholds::from_yaml(
            "check: {whatever: 1}\nexplain:\n  row-misestimate:\n    factor: 100\n",
        )
        .expect("parses");
        assert_eq!(t.row_misestimate.factor, 100.0);
        assert_eq!(t.row_misestimate.min_rows, 100.0);
        assert_eq!(t.sort_spill, Spill::default());
        let err = Thresholds::from_yaml("explain:\n  row-misestimat: {}\n").expect_err("typo");
        assert!(format!("{err:#}").contains("row-misestimat"), "{err:#}");
        assert_eq!(
            Thresholds::from_yaml("other: 1\n").expect("parses"),
            Thresholds::default()
        );
    }
}
