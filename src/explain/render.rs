//! Terminal output: the plan as an indented tree with self time, a share
//! bar, estimated vs actual rows and loops, and finding markers on their
//! nodes; then the top nodes by self time, a findings table and the fixes
//! with copy-pasteable SQL. Rendering is a pure function to a string so it
//! can be snapshot-tested.

use std::fmt::Write as _;

use super::PlanReport;
use super::analyze::count;
use super::model::Node;
use super::rules::Severity;
use crate::output::duration_ms;

/// Rendering choices decided by the caller (terminal or not, NO_COLOR).
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    /// Output goes to a terminal: box-drawing table fitted to its width.
    pub terminal: bool,
    /// How many nodes to list under "Top nodes by self time".
    pub top: usize,
}

const BAR_WIDTH: usize = 10;

fn paint(style: Style, code: &str, text: &str) -> String {
    if style.color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn severity_code(s: Severity) -> &'static str {
    match s {
        Severity::Error => "1;31",
        Severity::Warning => "33",
        Severity::Info => "36",
    }
}

/// The whole report for every plan.
pub fn render(reports: &[PlanReport], style: Style) -> String {
    let mut out = String::new();
    let mut number = 0usize;
    // Findings are numbered across plans so markers match the table.
    let mut numbered = Vec::new();
    for r in reports {
        let mut ids = Vec::new();
        for _ in &r.analysis.findings {
            number += 1;
            ids.push(number);
        }
        numbered.push(ids);
    }
    for (pi, r) in reports.iter().enumerate() {
        if pi > 0 {
            out.push('\n');
        }
        render_plan(&mut out, r, pi + 1, &numbered[pi], reports.len(), style);
    }
    let all: Vec<(usize, &super::Finding)> = reports
        .iter()
        .zip(&numbered)
        .flat_map(|(r, ids)| ids.iter().copied().zip(&r.analysis.findings))
        .collect();
    out.push('\n');
    if all.is_empty() {
        out.push_str("No findings.\n");
        return out;
    }
    let mut table = crate::output::table(&["#", "severity", "rule", "plan", "node", "finding"]);
    if !style.terminal {
        // Decided by the caller, not by whatever fd 1 is (tests, pipes).
        table.load_style(comfy_table::presets::ASCII_MARKDOWN);
        table.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
        table.force_no_tty();
    }
    for (n, f) in &all {
        table.add_row(vec![
            n.to_string(),
            f.severity.to_string(),
            f.rule.clone(),
            f.plan.to_string(),
            f.node
                .as_ref()
                .map(|l| format!("#{} {}", f.node_id.unwrap_or(0), l))
                .unwrap_or_else(|| "(statement)".into()),
            f.message.clone(),
        ]);
    }
    let _ = writeln!(out, "{table}");
    out.push_str("\nFixes:\n");
    for (n, f) in &all {
        let _ = writeln!(
            out,
            "[{n}] {} {}",
            paint(style, severity_code(f.severity), &f.rule),
            f.fix
        );
        if let Some(sql) = &f.sql {
            for line in sql.lines() {
                let _ = writeln!(out, "    {}", paint(style, "1", line));
            }
        }
    }
    out
}

fn render_plan(
    out: &mut String,
    r: &PlanReport,
    index: usize,
    numbers: &[usize],
    plans: usize,
    style: Style,
) {
    let plan = &r.plan;
    let head = if plans > 1 {
        format!("Plan {index} of {plans}")
    } else {
        "Plan".to_string()
    };
    let mut parts = vec![head];
    if let Some(e) = plan.execution_time_ms {
        parts.push(format!("execution {}", duration_ms(e)));
    }
    if let Some(p) = plan.planning_time_ms {
        parts.push(format!("planning {}", duration_ms(p)));
    }
    if let Some(total) = plan.jit.as_ref().and_then(|j| j.total_ms()) {
        parts.push(format!("JIT {}", duration_ms(total)));
    }
    for t in &plan.triggers {
        parts.push(format!(
            "trigger {} {} × {}",
            t.name,
            t.time_ms.map(duration_ms).unwrap_or_else(|| "-".into()),
            t.calls.map(count).unwrap_or_else(|| "-".into())
        ));
    }
    if !plan.root.analyzed() {
        parts.push("estimates only (no ANALYZE)".into());
    }
    let _ = writeln!(out, "{}", paint(style, "1", &parts.join(" · ")));
    let timed = !r.analysis.timings.is_empty();
    if timed {
        let _ = writeln!(out, "{:>9} {:>4} {:<BAR_WIDTH$}  node", "self", "%", "");
    }
    // Markers per node.
    let nodes = plan.root.walk();
    let mut markers: Vec<Vec<String>> = vec![Vec::new(); nodes.len()];
    let mut statement_markers = Vec::new();
    for (f, n) in r.analysis.findings.iter().zip(numbers) {
        let m = paint(
            style,
            severity_code(f.severity),
            &format!("◀ [{n}] {}", f.rule),
        );
        match f.node_id {
            Some(id) if id < markers.len() => markers[id].push(m),
            _ => statement_markers.push(m),
        }
    }
    // Iterative pre-order walk carrying the tree prefix.
    let mut stack: Vec<(&Node, String, bool, bool)> = vec![(&plan.root, String::new(), true, true)];
    while let Some((node, prefix, last, is_root)) = stack.pop() {
        let mut line = String::new();
        if timed {
            let t = r.analysis.timings.get(node.id);
            let self_ms = t.map(|t| t.self_ms).unwrap_or(0.0);
            let share = t.map(|t| t.share).unwrap_or(0.0);
            let _ = write!(
                line,
                "{:>9} {:>3.0}% {:<BAR_WIDTH$}  ",
                short_ms(self_ms),
                share * 100.0,
                bar(share)
            );
        }
        let branch = if is_root {
            String::new()
        } else if last {
            "└─ ".to_string()
        } else {
            "├─ ".to_string()
        };
        line.push_str(&prefix);
        line.push_str(&branch);
        if let Some(sub) = &node.subplan_name {
            line.push_str(&paint(style, "2", &format!("{sub}: ")));
        }
        line.push_str(&node.label());
        line.push_str("  ");
        line.push_str(&paint(style, "2", &rows_text(node)));
        for m in markers.get(node.id).into_iter().flatten() {
            line.push_str("  ");
            line.push_str(m);
        }
        let _ = writeln!(out, "{}", line.trim_end());
        let child_prefix = if is_root {
            String::new()
        } else if last {
            format!("{prefix}   ")
        } else {
            format!("{prefix}│  ")
        };
        let n = node.children.len();
        for (i, c) in node.children.iter().enumerate().rev() {
            stack.push((c, child_prefix.clone(), i + 1 == n, false));
        }
    }
    for m in statement_markers {
        let _ = writeln!(out, "{:>w$}{m}", "", w = if timed { 27 } else { 0 });
    }
    if timed && style.top > 0 {
        let mut order: Vec<_> = r.analysis.timings.iter().collect();
        order.sort_by(|a, b| {
            b.self_ms
                .partial_cmp(&a.self_ms)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let top: Vec<String> = order
            .iter()
            .take(style.top)
            .filter(|t| t.self_ms > 0.0)
            .filter_map(|t| {
                nodes.get(t.id).map(|n| {
                    format!(
                        "#{} {} {} ({:.0}%)",
                        t.id,
                        n.label(),
                        duration_ms(t.self_ms),
                        t.share * 100.0
                    )
                })
            })
            .collect();
        if !top.is_empty() {
            let _ = writeln!(out, "Top self time: {}", top.join("; "));
        }
    }
}

fn rows_text(node: &Node) -> String {
    let est = node.plan_rows.map(count);
    if node.never_executed {
        return match est {
            Some(e) => format!("rows {e} est · never executed"),
            None => "never executed".into(),
        };
    }
    match (est, node.actual_rows, node.actual_loops) {
        (Some(e), Some(a), Some(l)) => {
            let mut s = format!("rows {e} est → {} actual", count(a));
            if l != 1.0 {
                let _ = write!(s, " × {} loops", count(l));
            }
            s
        }
        (None, Some(a), Some(l)) => format!("rows {} × {} loops", count(a), count(l)),
        (Some(e), _, _) => format!("rows {e} est"),
        _ => String::new(),
    }
}

/// Milliseconds in a fixed short form for the tree column.
fn short_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// A share as a bar of eighth blocks.
fn bar(share: f64) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let eighths = (share.clamp(0.0, 1.0) * (BAR_WIDTH * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    s.push_str(PARTS[eighths % 8]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars() {
        assert_eq!(bar(0.0), "");
        assert_eq!(bar(1.0), "██████████");
        assert_eq!(bar(0.5), "█████");
        assert_eq!(bar(0.0125), "▏");
    }
}
