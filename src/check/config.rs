//! The rules YAML: which rules run, at what severity, with which
//! thresholds, and which query shapes to leave alone. The shipped
//! `rules/default.yaml` is compiled in; `--rules FILE` is read instead of
//! it, and any key that file leaves out takes the shipped value. Unknown
//! keys and rule ids are errors that name the file, line and key, because
//! a typo that silently disables a gate is worse than a failed build.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::check::rules::{
    high_plan_time, low_cache_hit_ratio, mean_time_regression, new_query_shape, rows_per_call,
    slow_max_time, slow_mean_time, temp_spill, time_share,
};
use crate::normalize::Fingerprint;

/// The shipped rules file, so the binary works anywhere.
pub const DEFAULT_YAML: &str = include_str!("../../rules/default.yaml");
/// Where the shipped file lives in the source tree (for report locations).
pub const DEFAULT_PATH: &str = "rules/default.yaml";

/// Version of the rules file format this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// A whole rules file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Format version; this build reads 1.
    pub version: u32,
    /// Fingerprints no rule reports (e.g. a known nightly report query).
    pub ignore: Vec<Fingerprint>,
    pub rules: RuleSettings,
    /// Thresholds of the EXPLAIN findings (`check --explain`, `pgadvisor
    /// explain`); docs/explain.md lists the keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<crate::explain::Thresholds>,
}

/// Settings per rule id. A field per rule keeps unknown ids an error at
/// the line they appear on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSettings {
    #[serde(rename = "slow-mean-time")]
    pub slow_mean_time: slow_mean_time::Settings,
    #[serde(rename = "slow-max-time")]
    pub slow_max_time: slow_max_time::Settings,
    #[serde(rename = "time-share")]
    pub time_share: time_share::Settings,
    #[serde(rename = "high-plan-time")]
    pub high_plan_time: high_plan_time::Settings,
    #[serde(rename = "low-cache-hit-ratio")]
    pub low_cache_hit_ratio: low_cache_hit_ratio::Settings,
    #[serde(rename = "temp-spill")]
    pub temp_spill: temp_spill::Settings,
    #[serde(rename = "rows-per-call")]
    pub rows_per_call: rows_per_call::Settings,
    #[serde(rename = "new-query-shape")]
    pub new_query_shape: new_query_shape::Settings,
    #[serde(rename = "mean-time-regression")]
    pub mean_time_regression: mean_time_regression::Settings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: CONFIG_VERSION,
            ignore: Vec::new(),
            rules: RuleSettings::default(),
            explain: None,
        }
    }
}

/// A rules file that could not be used, with where and why.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The compiled-in rules/default.yaml.
    pub fn builtin() -> Config {
        // A test proves the shipped file parses; fall back to the Rust
        // defaults (which that test also proves equal) rather than abort.
        Config::parse(DEFAULT_YAML, DEFAULT_PATH).unwrap_or_default()
    }

    /// Parse a rules file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let config: Config = if text.trim().is_empty() {
            Config::default()
        } else {
            serde_norway::from_str(text).map_err(|e| {
                let loc = e.location();
                let mut message = e.to_string();
                // The position goes in front, as compilers print it.
                if let Some(l) = &loc {
                    let suffix = format!(" at line {} column {}", l.line(), l.column());
                    if let Some(stripped) = message.strip_suffix(&suffix) {
                        message = stripped.to_string();
                    }
                }
                ConfigError {
                    file: file.to_string(),
                    line: loc.as_ref().map(|l| l.line()),
                    column: loc.as_ref().map(|l| l.column()),
                    message,
                }
            })?
        };
        if config.version != CONFIG_VERSION {
            return Err(ConfigError {
                file: file.to_string(),
                line: line_of_key(text, "version"),
                column: None,
                message: format!(
                    "rules file version {} is not supported (this pgadvisor reads version {CONFIG_VERSION})",
                    config.version
                ),
            });
        }
        config.validate(text, file)?;
        Ok(config)
    }

    /// Thresholds must be numbers a rule can compare with: finite and not
    /// negative; a regression ratio of 1 or less would flag every query.
    fn validate(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let value = serde_norway::to_value(&self.rules).unwrap_or(serde_norway::Value::Null);
        let Some(rules) = value.as_mapping() else {
            return Ok(());
        };
        for (id, settings) in rules {
            let id = id.as_str().unwrap_or_default();
            let Some(settings) = settings.as_mapping() else {
                continue;
            };
            for (key, v) in settings {
                let key = key.as_str().unwrap_or_default();
                let Some(n) = v.as_f64() else { continue };
                let problem = if !n.is_finite() || n < 0.0 {
                    Some("must be a finite number, 0 or more")
                } else if key == "ratio" && n <= 1.0 {
                    Some("must be more than 1 (2.0 means twice as slow)")
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(ConfigError {
                        file: file.to_string(),
                        line: line_of_key(text, id),
                        column: None,
                        message: format!("rules.{id}.{key}: {n} {problem}"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Read a rules file from disk.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read the rules file {} (pass an existing YAML file to --rules)",
                path.display()
            )
        })?;
        Ok(Config::parse(&text, &path.display().to_string())?)
    }
}

/// 1-based line where `key:` first appears at the start of a line's
/// content (used to point reports at a rule's settings).
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            let t = t.strip_prefix(key).or_else(|| {
                t.strip_prefix('"')
                    .and_then(|r| r.strip_prefix(key))
                    .and_then(|r| r.strip_prefix('"'))
            });
            t.is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_file_parses_and_equals_rust_defaults() {
        let parsed = Config::parse(DEFAULT_YAML, DEFAULT_PATH).expect("rules/default.yaml parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn shipped_file_sets_every_key_explicitly() {
        // Every setting a user can change is written out in the shipped
        // file, so it serves as the documented template.
        let shipped: serde_norway::Value =
            serde_norway::from_str(DEFAULT_YAML).expect("rules/default.yaml is YAML");
        let full = serde_norway::to_value(Config::default()).expect("serializes");
        let rules_full = full
            .get("rules")
            .and_then(|v| v.as_mapping())
            .expect("rules");
        for (id, settings) in rules_full {
            let id = id.as_str().expect("string id");
            let written = shipped
                .get("rules")
                .and_then(|r| r.get(id))
                .and_then(|v| v.as_mapping())
                .unwrap_or_else(|| panic!("default.yaml lacks rules.{id}"));
            for key in settings.as_mapping().expect("mapping").keys() {
                assert!(
                    written.contains_key(key),
                    "default.yaml lacks rules.{id}.{}",
                    key.as_str().unwrap_or("?")
                );
            }
        }
    }

    #[test]
    fn partial_file_keeps_shipped_values() {
        let c = Config::parse(
            "version: 1\nrules:\n  slow-mean-time:\n    max_mean_ms: 50\n",
            "r.yaml",
        )
        .expect("parses");
        assert_eq!(c.rules.slow_mean_time.max_mean_ms, 50.0);
        assert_eq!(
            c.rules.slow_mean_time.min_calls,
            Config::default().rules.slow_mean_time.min_calls
        );
        assert_eq!(c.rules.time_share, Config::default().rules.time_share);
    }

    #[test]
    fn unknown_rule_id_names_file_line_and_key() {
        let err = Config::parse(
            "version: 1\nrules:\n  slow-mean-time:\n    max_mean_ms: 50\n  slow-mean-tme:\n    enabled: false\n",
            "ci/rules.yaml",
        )
        .expect_err("unknown id");
        let text = err.to_string();
        assert!(text.starts_with("ci/rules.yaml:5:"), "{text}");
        assert!(text.contains("slow-mean-tme"), "{text}");
    }

    #[test]
    fn unknown_threshold_key_names_file_line_and_key() {
        let err = Config::parse("rules:\n  temp-spill:\n    max_temp_mb: 1\n", "r.yaml")
            .expect_err("unknown key");
        let text = err.to_string();
        assert!(text.starts_with("r.yaml:3:"), "{text}");
        assert!(text.contains("max_temp_mb"), "{text}");
    }

    #[test]
    fn explain_section_holds_explain_thresholds() {
        use crate::check::finding::Severity;
        assert!(Config::parse("explain: {}\n", "r.yaml").is_ok());
        let c = Config::parse(
            "explain:\n  seq-scan-filter:\n    severity: warning\n",
            "r.yaml",
        )
        .expect("explain keys");
        let t = c.explain.expect("explain section");
        assert_eq!(t.seq_scan_filter.severity, Severity::Warning);
        let err =
            Config::parse("explain:\n  seq_scan_rows: 10\n", "r.yaml").expect_err("unknown key");
        assert!(
            err.to_string().contains("seq_scan_rows") && err.to_string().starts_with("r.yaml:2:"),
            "{err}"
        );
    }

    #[test]
    fn bad_severity_and_fingerprint_are_errors() {
        let err = Config::parse("rules:\n  time-share:\n    severity: fatal\n", "r.yaml")
            .expect_err("bad severity");
        assert!(err.to_string().contains("fatal"), "{err}");
        let err = Config::parse("ignore: [xyz]\n", "r.yaml").expect_err("bad fingerprint");
        assert!(err.to_string().starts_with("r.yaml:1:"), "{err}");
    }

    #[test]
    fn thresholds_must_make_sense() {
        let err = Config::parse(
            "rules:\n  mean-time-regression:\n    ratio: 0.5\n",
            "r.yaml",
        )
        .expect_err("ratio");
        assert_eq!(
            err.to_string(),
            "r.yaml:2: rules.mean-time-regression.ratio: 0.5 must be more than 1 (2.0 means twice as slow)"
        );
        let err = Config::parse("rules:\n  slow-mean-time:\n    max_mean_ms: -5\n", "r.yaml")
            .expect_err("negative");
        assert!(err.to_string().contains("max_mean_ms: -5 must be"), "{err}");
        let err = Config::parse(
            "rules:\n  slow-mean-time:\n    max_mean_ms: .nan\n",
            "r.yaml",
        )
        .expect_err("nan");
        assert!(err.to_string().contains("max_mean_ms"), "{err}");
    }

    #[test]
    fn unsupported_version_is_an_error() {
        let err = Config::parse("version: 2\n", "r.yaml").expect_err("version");
        assert!(err.to_string().contains("version 2"), "{err}");
    }

    #[test]
    fn finds_rule_lines() {
        let text = "rules:\n  time-share:\n    enabled: true\n  \"temp-spill\":\n";
        assert_eq!(line_of_key(text, "time-share"), Some(2));
        assert_eq!(line_of_key(text, "temp-spill"), Some(4));
        assert_eq!(line_of_key(text, "rows-per-call"), None);
    }
}
