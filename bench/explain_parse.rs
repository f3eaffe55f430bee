//! Parse throughput of `pgadvisor explain`: one large JSON plan file and
//! 10,000 TEXT plans, built from the captured fixtures (fixtures/plans/).
//! Run with `bench/explain.sh` (or `cargo bench --bench explain_parse`).
//! Prints MB/s (best of 5 runs) and writes the inputs to bench/out/ so the
//! whole command can be timed on them too.

use std::path::Path;
use std::time::Instant;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = root.join("fixtures/plans");
    let out = root.join("bench/out");
    std::fs::create_dir_all(&out).expect("creates bench/out");

    // 10,000 TEXT plans: every TEXT fixture, psql decoration included, in turn.
    let mut texts = Vec::new();
    for dir in ["seed", "shapes"] {
        let mut files: Vec<_> = std::fs::read_dir(fixtures.join(dir))
            .expect("fixtures")
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "txt")
                    && !p.to_string_lossy().contains("multiple")
                    && !p.to_string_lossy().contains("json")
                    // psql output only: a file with psql headers ignores text outside them.
                    && !p.to_string_lossy().contains("pasted")
            })
            .collect();
        files.sort();
        for f in files {
            texts.push(std::fs::read_to_string(f).expect("fixture"));
        }
    }
    let mut text = String::new();
    let mut n = 0;
    while n < 10_000 {
        for t in &texts {
            if n == 10_000 {
                break;
            }
            text.push_str(t);
            text.push('\n');
            n += 1;
        }
    }

    // One large JSON plan: a partitioned Append over 20,000 members, each a
    // real Seq Scan node from a fixture, plus the fixture plans themselves.
    let scan = r#"{"Node Type": "Seq Scan", "Parent Relationship": "Member", "Parallel Aware": false, "Async Capable": false, "Relation Name": "events_p", "Alias": "events_p", "Startup Cost": 0.00, "Total Cost": 206.97, "Plan Rows": 1887, "Plan Width": 3, "Actual Startup Time": 0.009, "Actual Total Time": 0.737, "Actual Rows": 1887, "Actual Loops": 1, "Filter": "((at >= '2024-03-15'::date) AND (at < '2024-08-01'::date))", "Rows Removed by Filter": 8244, "Shared Hit Blocks": 55, "Shared Read Blocks": 0, "Shared Dirtied Blocks": 0, "Shared Written Blocks": 0, "Local Hit Blocks": 0, "Local Read Blocks": 0, "Local Dirtied Blocks": 0, "Local Written Blocks": 0, "Temp Read Blocks": 0, "Temp Written Blocks": 0}"#;
    let members: Vec<&str> = std::iter::repeat_n(scan, 20_000).collect();
    let json = format!(
        "[\n  {{\n    \"Plan\": {{\"Node Type\": \"Append\", \"Startup Cost\": 0.0, \"Total Cost\": 4139400.0, \"Plan Rows\": 37740000, \"Plan Width\": 3, \"Actual Startup Time\": 0.009, \"Actual Total Time\": 15000.0, \"Actual Rows\": 37740000, \"Actual Loops\": 1, \"Plans\": [\n{}\n]}},\n    \"Planning Time\": 120.5,\n    \"Execution Time\": 15200.1\n  }}\n]\n",
        members.join(",\n")
    );

    std::fs::write(out.join("plans_10000.txt"), &text).expect("writes");
    std::fs::write(out.join("large_plan.json"), &json).expect("writes");

    report("TEXT, 10,000 plans", &text, 10_000);
    report("JSON, one plan of 20,001 nodes", &json, 1);
}

fn report(what: &str, input: &str, expected_plans: usize) {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let plans = pgadvisor::explain::parse(input).expect("the bench input parses");
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(plans.len(), expected_plans, "{what}");
        best = best.min(secs);
    }
    let mb = input.len() as f64 / 1_000_000.0;
    println!(
        "pgadvisor explain parse  {what:<32} {mb:>7.1} MB  {:>8.1} ms  {:>7.1} MB/s",
        best * 1000.0,
        mb / best
    );
}
