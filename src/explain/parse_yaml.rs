//! YAML EXPLAIN output: the same properties as JSON, so it is read into a
//! `serde_json::Value` and handed to the JSON converter.

use anyhow::{Result, anyhow};

use super::model::Plan;

pub fn parse(text: &str) -> Result<Vec<Plan>> {
    let value: serde_json::Value = serde_norway::from_str(text)
        .map_err(|e| anyhow!("invalid YAML: {e} (is the plan complete?)"))?;
    super::parse_json::plans_from_value(&value)
}
