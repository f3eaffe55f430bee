//! Which actions run, and in what order: `--only`/`--skip` selection and
//! the `--jobs` rule that two builds never run on one table at once. Pure.

use std::collections::HashSet;

use anyhow::{Result, bail};

use crate::plan::Action;

/// Indexes into `actions` selected by `--only` (all when empty) minus
/// `--skip`. An id that names no action is an error, so a typo never turns
/// into "nothing to do".
pub fn select(actions: &[Action], only: &[String], skip: &[String]) -> Result<Vec<usize>> {
    let known: HashSet<&str> = actions.iter().map(|a| a.id.as_str()).collect();
    for id in only.iter().chain(skip) {
        if !known.contains(id.as_str()) {
            let mut ids: Vec<&str> = known.iter().copied().collect();
            ids.sort_unstable();
            bail!(
                "no action `{id}` in the plan; its action ids are: {}",
                ids.join(", ")
            );
        }
    }
    Ok(actions
        .iter()
        .enumerate()
        .filter(|(_, a)| only.is_empty() || only.contains(&a.id))
        .filter(|(_, a)| !skip.contains(&a.id))
        .map(|(i, _)| i)
        .collect())
}

/// Hands out actions to `--jobs` workers: plan order, except that an action
/// whose table is busy waits and a later action on an idle table goes first.
#[derive(Debug, Default)]
pub struct Scheduler {
    queue: Vec<(usize, String)>,
    busy: HashSet<String>,
}

impl Scheduler {
    /// `items`: (action index, table key) in plan order.
    pub fn new(items: Vec<(usize, String)>) -> Self {
        Scheduler {
            queue: items,
            busy: HashSet::new(),
        }
    }

    /// The next action whose table is idle, marking the table busy.
    pub fn take_next(&mut self) -> Option<usize> {
        let pos = self
            .queue
            .iter()
            .position(|(_, t)| !self.busy.contains(t))?;
        let (i, t) = self.queue.remove(pos);
        self.busy.insert(t);
        Some(i)
    }

    /// The action on `table` finished.
    pub fn release(&mut self, table: &str) {
        self.busy.remove(table);
    }

    /// Nothing left to hand out.
    pub fn is_drained(&self) -> bool {
        self.queue.is_empty()
    }

    /// Forget what was not started (Ctrl-C).
    pub fn clear(&mut self) -> Vec<usize> {
        self.queue.drain(..).map(|(i, _)| i).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ActionKind, Evidence};

    fn action(id: &str) -> Action {
        Action {
            id: id.into(),
            kind: ActionKind::CreateIndex,
            table: "app.t".into(),
            index: "app.i".into(),
            ddl: "CREATE INDEX CONCURRENTLY i ON app.t (a)".into(),
            definition: None,
            reason: "new index".into(),
            evidence: Evidence::default(),
        }
    }

    #[test]
    fn only_and_skip() {
        let a = vec![action("a"), action("b"), action("c")];
        assert_eq!(select(&a, &[], &[]).expect("all"), vec![0, 1, 2]);
        assert_eq!(
            select(&a, &["c".into(), "a".into()], &[]).expect("only"),
            vec![0, 2]
        );
        assert_eq!(select(&a, &[], &["b".into()]).expect("skip"), vec![0, 2]);
        let e = select(&a, &["nope".into()], &[]).expect_err("unknown id");
        assert!(
            e.to_string().contains("`nope`") && e.to_string().contains("a, b, c"),
            "{e}"
        );
    }

    #[test]
    fn never_two_on_one_table() {
        let mut s = Scheduler::new(vec![
            (0, "t1".into()),
            (1, "t1".into()),
            (2, "t2".into()),
            (3, "t1".into()),
        ]);
        assert_eq!(s.take_next(), Some(0));
        // t1 busy: the t2 action goes ahead.
        assert_eq!(s.take_next(), Some(2));
        assert_eq!(s.take_next(), None);
        s.release("t2");
        assert_eq!(s.take_next(), None, "only t1 work left and t1 is busy");
        s.release("t1");
        assert_eq!(s.take_next(), Some(1));
        s.release("t1");
        assert_eq!(s.take_next(), Some(3));
        assert!(s.is_drained());
    }
}
