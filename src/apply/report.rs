//! What `apply` prints: the `--dry-run` script (the exact SQL and the
//! checks, as a file a DBA could read or run by hand) and the final
//! summary. Pure text from plain values, pinned by tests.

use std::fmt::Write;

use super::executor::{Outcome, Result_, Settings};
use super::names;
use super::preflight::{self, Verdict};
use crate::plan::{ActionKind, Plan};

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "-- {line}");
    }
}

/// The `--dry-run` output: session settings, then per action the checks it
/// passed (or why it will not run), the statements in order, and what is
/// checked afterwards. Statements that would run are plain SQL; the others
/// are commented out.
pub fn dry_run(
    plan_path: &str,
    target: &str,
    plan: &Plan,
    verdicts: &[(usize, Verdict)],
    s: &Settings,
) -> String {
    let mut out = String::new();
    comment(&mut out, &format!("pgadvisor apply --dry-run {plan_path}"));
    comment(
        &mut out,
        &format!("target: {target} (primary: pg_is_in_recovery() is false)"),
    );
    comment(
        &mut out,
        &format!(
            "each statement runs on its own connection, never inside a transaction block;\n\
             a lock not granted within lock_timeout is retried {} times (backoff {} doubling, at most 60s)",
            s.lock_retries,
            humantime::format_duration(s.retry_backoff)
        ),
    );
    let runs = verdicts
        .iter()
        .filter(|(_, v)| matches!(v, Verdict::Run { .. }))
        .count();
    comment(
        &mut out,
        &format!("{} of {} selected actions would run", runs, verdicts.len()),
    );
    let total = verdicts.len();
    for (n, (i, v)) in verdicts.iter().enumerate() {
        let a = &plan.actions[*i];
        let _ = writeln!(out);
        comment(
            &mut out,
            &format!("[{}/{total}] {} ({})", n + 1, a.id, a.reason),
        );
        let (table, index) = match preflight::action_names(a) {
            Ok(x) => (x.0.quoted(), x.1.quoted()),
            Err(_) => (a.table.clone(), a.index.clone()),
        };
        let checks = match a.kind {
            ActionKind::CreateIndex => {
                let cols = a
                    .definition
                    .as_ref()
                    .map(names::referenced_columns)
                    .unwrap_or_default()
                    .iter()
                    .map(|c| crate::ident::quote_ident(c))
                    .collect::<Vec<_>>();
                format!(
                    "checks: the role may create indexes on {table}; {table} exists{}; no valid index {index} \
                     or identical index exists; invalid leftovers are dropped first",
                    if cols.is_empty() {
                        String::new()
                    } else {
                        format!(" with columns {}", cols.join(", "))
                    }
                )
            }
            ActionKind::DropIndex => format!(
                "checks: {index} exists on {table}, backs no constraint, and the role owns it; drops run only with --allow-drop"
            ),
        };
        comment(&mut out, &checks);
        match v {
            Verdict::Run { leftovers } => {
                comment(&mut out, "result of the checks: would run");
                let _ = writeln!(
                    out,
                    "SET lock_timeout = '{}ms';",
                    s.lock_timeout.as_millis()
                );
                for l in leftovers {
                    comment(
                        &mut out,
                        &format!("invalid leftover of an interrupted build: {l}"),
                    );
                    let _ = writeln!(out, "DROP INDEX CONCURRENTLY IF EXISTS {};", l.quoted());
                }
                if a.kind == ActionKind::CreateIndex {
                    if let Some(m) = &s.maintenance_work_mem {
                        let _ = writeln!(
                            out,
                            "SET maintenance_work_mem = {};",
                            crate::ident::quote_literal(m)
                        );
                    }
                    if let Some(w) = s.max_parallel_maintenance_workers {
                        let _ = writeln!(out, "SET max_parallel_maintenance_workers = {w};");
                    }
                    let _ = writeln!(out, "SET statement_timeout = 0;");
                    let _ = writeln!(out, "{};", a.ddl.trim().trim_end_matches(';'));
                    let _ = writeln!(out, "RESET statement_timeout;");
                    let mut after = vec![format!(
                        "{index} is valid and ready (indisvalid, indisready)"
                    )];
                    if s.analyze {
                        after.push(format!(
                            "ANALYZE {table} (after its last action in this run)"
                        ));
                    }
                    if s.verify {
                        after.push(format!("bt_index_check('{index}')"));
                    }
                    if !a.evidence.sql.is_empty() {
                        after.push(match a.evidence.sql.len() {
                            1 => "re-plan the evidence query".to_string(),
                            n => format!("re-plan {n} evidence queries"),
                        });
                    }
                    comment(&mut out, &format!("then: {}", after.join("; ")));
                } else {
                    let _ = writeln!(out, "{};", a.ddl.trim().trim_end_matches(';'));
                }
            }
            Verdict::Done(m) => {
                comment(
                    &mut out,
                    &format!("result of the checks: already done: {m}"),
                );
                comment(
                    &mut out,
                    &format!("{};", a.ddl.trim().trim_end_matches(';')),
                );
            }
            Verdict::Skipped(m) => {
                comment(&mut out, &format!("result of the checks: skipped: {m}"));
                comment(
                    &mut out,
                    &format!("{};", a.ddl.trim().trim_end_matches(';')),
                );
            }
            Verdict::Refused(m) => {
                comment(&mut out, &format!("result of the checks: REFUSED: {m}"));
                comment(
                    &mut out,
                    &format!("{};", a.ddl.trim().trim_end_matches(';')),
                );
            }
        }
    }
    out
}

/// One line per action for the confirmation prompt.
pub fn intentions(plan: &Plan, verdicts: &[(usize, Verdict)]) -> Vec<String> {
    verdicts
        .iter()
        .map(|(i, v)| {
            let a = &plan.actions[*i];
            let what = match v {
                Verdict::Run { leftovers } if leftovers.is_empty() => "will run".to_string(),
                Verdict::Run { leftovers } => format!(
                    "will run after dropping invalid leftover {}",
                    leftovers
                        .iter()
                        .map(|l| l.quoted())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Verdict::Done(m) => format!("already done ({m})"),
                Verdict::Skipped(m) => format!("skipped ({m})"),
                Verdict::Refused(m) => format!("REFUSED: {m}"),
            };
            format!("  {}  {what}\n      {}", a.id, a.ddl.trim())
        })
        .collect()
}

/// Summary rows: action, result, duration, index size, cost before → after,
/// whether the planner uses the index, detail.
pub fn summary_rows(outcomes: &[Outcome]) -> Vec<Vec<String>> {
    outcomes
        .iter()
        .map(|o| {
            let cost = if o.replans.is_empty() {
                "-".to_string()
            } else {
                o.replans
                    .iter()
                    .map(|r| match (r.cost_before, r.cost_after) {
                        (Some(b), Some(a)) => format!("{b:.0} → {a:.0}"),
                        _ => "?".into(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let uses = if o.replans.is_empty() {
                "-".to_string()
            } else {
                let n = o
                    .replans
                    .iter()
                    .filter(|r| r.uses_index == Some(true))
                    .count();
                format!("{n}/{}", o.replans.len())
            };
            vec![
                o.id.clone(),
                match o.verified {
                    Some(true) => format!("{} (verified)", o.result.as_str()),
                    _ => o.result.as_str().to_string(),
                },
                if matches!(
                    o.result,
                    Result_::Applied | Result_::Failed | Result_::Cancelled
                ) {
                    crate::output::duration_ms(o.duration_ms)
                } else {
                    "-".into()
                },
                o.size_bytes
                    .map(|b| crate::output::bytes(b.max(0) as u64))
                    .unwrap_or_else(|| "-".into()),
                cost,
                uses,
                crate::output::shorten(&o.message, 90),
            ]
        })
        .collect()
}

/// The closing sentence: what happened, in counts.
pub fn closing(outcomes: &[Outcome]) -> String {
    let count = |r: Result_| outcomes.iter().filter(|o| o.result == r).count();
    let applied = count(Result_::Applied);
    let done = count(Result_::AlreadyDone);
    if applied == 0 && outcomes.iter().all(|o| o.result.is_ok()) {
        return format!(
            "nothing to do: {done} of {} actions already applied{}",
            outcomes.len(),
            match count(Result_::Skipped) {
                0 => String::new(),
                n => format!(", {n} skipped"),
            }
        );
    }
    let mut parts = vec![format!("{applied} applied"), format!("{done} already done")];
    for r in [
        Result_::Skipped,
        Result_::Refused,
        Result_::Failed,
        Result_::Cancelled,
        Result_::NotStarted,
    ] {
        let n = count(r);
        if n > 0 {
            parts.push(format!("{n} {}", r.as_str()));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Evidence};

    fn outcome(result: Result_) -> Outcome {
        let a = Action {
            id: "create:app.i".into(),
            kind: ActionKind::CreateIndex,
            table: "app.t".into(),
            index: "app.i".into(),
            ddl: "CREATE INDEX CONCURRENTLY i ON app.t (a)".into(),
            definition: None,
            reason: "new index".into(),
            evidence: Evidence::default(),
        };
        Outcome::new(&a, result, String::new())
    }

    #[test]
    fn closing_lines() {
        assert_eq!(
            closing(&[outcome(Result_::AlreadyDone), outcome(Result_::Skipped)]),
            "nothing to do: 1 of 2 actions already applied, 1 skipped"
        );
        assert_eq!(
            closing(&[outcome(Result_::Applied), outcome(Result_::Failed)]),
            "1 applied, 0 already done, 1 failed"
        );
        let mut o = outcome(Result_::Applied);
        o.size_bytes = Some(8192);
        o.duration_ms = 1500.0;
        o.replans.push(super::super::executor::Replan {
            query: "SELECT 1".into(),
            cost_before: Some(226.0),
            cost_after: Some(8.3),
            uses_index: Some(true),
            error: None,
        });
        assert_eq!(
            summary_rows(&[o])[0],
            vec![
                "create:app.i",
                "applied",
                "1.50 s",
                "8.0 kB",
                "226 → 8",
                "1/1",
                ""
            ]
        );
    }
}
