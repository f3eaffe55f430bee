//! What the person running `apply` sees while it works: one indicatif bar
//! per build on a terminal (stderr), plain timestamped lines otherwise.
//! The wording of phases and blockers is pure and unit-tested.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One row of `pg_stat_progress_create_index`.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildProgress {
    pub pid: i32,
    pub phase: String,
    pub blocks_total: i64,
    pub blocks_done: i64,
    pub tuples_total: i64,
    pub tuples_done: i64,
    pub lockers_total: i64,
    pub lockers_done: i64,
}

/// A session keeping a build waiting.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Blocker {
    pub pid: i32,
    pub application: String,
    pub state: String,
    pub age_seconds: f64,
    pub query: String,
}

/// The counter that moves in a phase: blocks while scanning, tuples while
/// sorting/loading, lockers while waiting.
pub fn counter(p: &BuildProgress) -> Option<(i64, i64, &'static str)> {
    if p.phase.starts_with("waiting for") && p.lockers_total > 0 {
        Some((p.lockers_done, p.lockers_total, "lockers"))
    } else if p.blocks_total > 0 && p.tuples_total == 0 {
        Some((p.blocks_done, p.blocks_total, "blocks"))
    } else if p.tuples_total > 0 {
        Some((p.tuples_done, p.tuples_total, "tuples"))
    } else if p.blocks_total > 0 {
        Some((p.blocks_done, p.blocks_total, "blocks"))
    } else {
        None
    }
}

/// `building index: scanning table · blocks 120/400 (30%)`.
pub fn describe(p: &BuildProgress) -> String {
    match counter(p) {
        Some((done, total, unit)) => format!(
            "{} · {unit} {done}/{total} ({:.0}%)",
            p.phase,
            if total > 0 {
                done as f64 * 100.0 / total as f64
            } else {
                0.0
            }
        ),
        None => p.phase.clone(),
    }
}

/// `12.9k blocks/s` over the time the phase has run.
pub fn rate(done: i64, since: Duration, unit: &str) -> String {
    let secs = since.as_secs_f64();
    if secs < 0.2 || done <= 0 {
        return format!("- {unit}/s");
    }
    let r = done as f64 / secs;
    if r >= 1_000_000.0 {
        format!("{:.1}M {unit}/s", r / 1_000_000.0)
    } else if r >= 1_000.0 {
        format!("{:.1}k {unit}/s", r / 1_000.0)
    } else {
        format!("{r:.0} {unit}/s")
    }
}

/// `pid 4242 (psql, idle in transaction, 12s): LOCK TABLE app.bookings …`.
pub fn describe_blocker(b: &Blocker) -> String {
    format!(
        "pid {} ({}, {}, {}): {}",
        b.pid,
        if b.application.is_empty() {
            "no application_name"
        } else {
            &b.application
        },
        if b.state.is_empty() { "?" } else { &b.state },
        humantime::format_duration(Duration::from_secs(b.age_seconds.max(0.0) as u64)),
        crate::output::shorten(&b.query, 100)
    )
}

enum Mode {
    Bars(MultiProgress),
    Plain,
}

#[derive(Default)]
struct State {
    bars: HashMap<usize, ProgressBar>,
    labels: HashMap<usize, String>,
    /// Plain mode: last phase printed and when, per action.
    last: HashMap<usize, (String, Instant)>,
    /// Blocker pids last reported, per action.
    blockers: HashMap<usize, Vec<i32>>,
    /// Bars: the phase shown, when it was first seen and its counter then.
    phases: HashMap<usize, (String, Instant, i64)>,
}

/// The progress display shared by the workers and the monitor.
pub struct Ui {
    mode: Mode,
    state: Mutex<State>,
    /// Plain mode: repeat an unchanged phase line at most this often.
    plain_every: Duration,
}

impl Ui {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn new(bars: bool) -> Ui {
        Ui {
            mode: if bars {
                Mode::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
            } else {
                Mode::Plain
            },
            state: Mutex::new(State::default()),
            plain_every: Duration::from_secs(5),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// A line that is not about one build.
    pub fn note(&self, msg: &str) {
        match &self.mode {
            Mode::Bars(m) => {
                let _ = m.println(msg);
            }
            Mode::Plain => eprintln!("{} {msg}", now()),
        }
    }

    fn line(&self, idx: usize, msg: &str) {
        let label = self.with(|s| s.labels.get(&idx).cloned().unwrap_or_default());
        self.note(&format!("{label}: {msg}"));
    }

    pub fn start(&self, idx: usize, label: &str, what: &str) {
        self.with(|s| s.labels.insert(idx, label.to_string()));
        if let Mode::Bars(m) = &self.mode {
            let bar = m.add(ProgressBar::new(0));
            bar.set_style(spinner_style());
            bar.set_prefix(label.to_string());
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(250));
            self.with(|s| s.bars.insert(idx, bar));
        } else {
            self.line(idx, what);
        }
    }

    /// A step of the action (dropping a leftover, ANALYZE, verify).
    pub fn step(&self, idx: usize, what: &str) {
        match self.with(|s| s.bars.get(&idx).cloned()) {
            Some(bar) => {
                bar.set_style(spinner_style());
                bar.set_message(what.to_string());
            }
            None => self.line(idx, what),
        }
    }

    pub fn progress(&self, idx: usize, p: &BuildProgress) {
        match self.with(|s| s.bars.get(&idx).cloned()) {
            Some(bar) => match counter(p) {
                Some((done, total, unit)) => {
                    // The rate since the phase was first seen (the counters
                    // of a phase start wherever the server left them).
                    let (since, base) = self.with(|s| {
                        let e = s
                            .phases
                            .entry(idx)
                            .or_insert_with(|| (p.phase.clone(), Instant::now(), done));
                        if e.0 != p.phase {
                            *e = (p.phase.clone(), Instant::now(), done);
                        }
                        (e.1.elapsed(), e.2)
                    });
                    bar.set_style(bar_style());
                    bar.set_length(total.max(0) as u64);
                    bar.set_position(done.max(0) as u64);
                    bar.set_message(format!(
                        "{unit} · {} · {}",
                        p.phase,
                        rate(done - base, since, unit)
                    ));
                }
                None => {
                    bar.set_style(spinner_style());
                    bar.set_message(p.phase.clone());
                }
            },
            None => {
                let due = self.with(|s| {
                    let due = match s.last.get(&idx) {
                        Some((phase, at)) => *phase != p.phase || at.elapsed() >= self.plain_every,
                        None => true,
                    };
                    if due {
                        s.last.insert(idx, (p.phase.clone(), Instant::now()));
                    }
                    due
                });
                if due {
                    self.line(idx, &describe(p));
                }
            }
        }
    }

    /// Report who blocks a build, once per change of the blocker set.
    pub fn blocked(&self, idx: usize, blockers: &[Blocker]) {
        let pids: Vec<i32> = blockers.iter().map(|b| b.pid).collect();
        let changed = self.with(|s| {
            let changed = s.blockers.get(&idx) != Some(&pids);
            s.blockers.insert(idx, pids.clone());
            changed
        });
        if changed && !blockers.is_empty() {
            for b in blockers {
                self.line(
                    idx,
                    &format!("waiting for a lock, blocked by {}", describe_blocker(b)),
                );
            }
        }
    }

    pub fn finish(&self, idx: usize, result: &str) {
        if let Some(bar) = self.with(|s| s.bars.remove(&idx)) {
            bar.finish_and_clear();
        }
        self.line(idx, result);
    }

    /// Remove every bar (before the summary is printed).
    pub fn clear(&self) {
        let bars: Vec<ProgressBar> = self.with(|s| s.bars.drain().map(|(_, b)| b).collect());
        for b in bars {
            b.finish_and_clear();
        }
        if let Mode::Bars(m) = &self.mode {
            let _ = m.clear();
        }
    }
}

/// While a phase has no counter (initializing, waiting, ANALYZE).
fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} [{elapsed_precise}] {spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// While blocks, tuples or lockers advance: done/total and rate.
fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix} [{elapsed_precise}] {bar:25} {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(phase: &str, b: (i64, i64), t: (i64, i64), l: (i64, i64)) -> BuildProgress {
        BuildProgress {
            pid: 1,
            phase: phase.into(),
            blocks_done: b.0,
            blocks_total: b.1,
            tuples_done: t.0,
            tuples_total: t.1,
            lockers_done: l.0,
            lockers_total: l.1,
        }
    }

    #[test]
    fn phases_read_well() {
        assert_eq!(
            describe(&row(
                "building index: scanning table",
                (120, 400),
                (0, 0),
                (0, 0)
            )),
            "building index: scanning table · blocks 120/400 (30%)"
        );
        assert_eq!(
            describe(&row(
                "building index: loading tuples in tree",
                (400, 400),
                (50, 200),
                (0, 0)
            )),
            "building index: loading tuples in tree · tuples 50/200 (25%)"
        );
        assert_eq!(
            describe(&row(
                "waiting for writers before build",
                (0, 0),
                (0, 0),
                (1, 3)
            )),
            "waiting for writers before build · lockers 1/3 (33%)"
        );
        assert_eq!(
            describe(&row("initializing", (0, 0), (0, 0), (0, 0))),
            "initializing"
        );
        assert_eq!(
            rate(12_900, Duration::from_secs(1), "blocks"),
            "12.9k blocks/s"
        );
        assert_eq!(
            rate(3_000_000, Duration::from_secs(2), "tuples"),
            "1.5M tuples/s"
        );
        assert_eq!(rate(50, Duration::from_millis(100), "blocks"), "- blocks/s");
        let b = Blocker {
            pid: 42,
            application: "psql".into(),
            state: "idle in transaction".into(),
            age_seconds: 12.4,
            query: "LOCK TABLE app.bookings\n IN SHARE MODE".into(),
        };
        assert_eq!(
            describe_blocker(&b),
            "pid 42 (psql, idle in transaction, 12s): LOCK TABLE app.bookings IN SHARE MODE"
        );
    }
}
