//! The staged bundle under load. The worker reads its bundles from a KV namespace
//! ([`KvServer`], read every [`REFRESH_SECONDS`]) holding the PetStore bundle as the live
//! one; at fixed fractions of the run ([`SWAPS`]) the soak puts a staged candidate with a
//! `forbid` on `get /pets` for AVP_User into the staged entry, then replaces it with a
//! candidate of a higher serial whose `forbid` is on `get /pets/{petId}` instead, then
//! writes the promoted document (the second candidate's policies, live, a serial above
//! both) to the live entry.
//!
//! Checked: every answer is what the bundle in force at that moment allows, both outcomes
//! allowed only within [`WINDOW_SECONDS`] of the promotion (the time set before the entry
//! is written: an answer received before it is the old bundle's); while a candidate is
//! staged (from [`WINDOW_SECONDS`] after its write until the next write), every request it
//! changes has exactly one `decision_changed` line naming its `forbid`, and no other
//! request has one; after the promotion (and its window) no request has one; every
//! `decision_changed` line belongs to a request the soak sent; the worker logs taking each
//! document and retiring the candidate, and refuses none.

use cedargate::{BundleSlot, BundleSource};
use cedargate_tests::bundles;
use cedargate_tests::kv::KvServer;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The deployment the bundles are signed for.
pub const AUDIENCE: &str = "cedargate-soak";
pub const BINDING: &str = "CEDARGATE_BUNDLES";
const LIVE_KEY: &str = "current";
const STAGED_KEY: &str = "staged";
/// How often the worker looks at KV.
pub const REFRESH_SECONDS: u64 = 1;
/// Around each write: the refresh interval, plus time for the read the next request
/// starts (after its response) to finish.
pub const WINDOW_SECONDS: f64 = REFRESH_SECONDS as f64 + 2.0;
const LIVE_SERIAL: u64 = 10;
const FIRST_SERIAL: u64 = 20;
const SECOND_SERIAL: u64 = 30;
const PROMOTED_SERIAL: u64 = 40;
const FIRST_POLICY: &str = "users-frozen";
const SECOND_POLICY: &str = "users-no-pet-reads";
const FIRST_FORBID: &str = "@id(\"users-frozen\")\nforbid (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"get /pets\", resource);";
const SECOND_FORBID: &str = "@id(\"users-no-pet-reads\")\nforbid (principal in PetStore::UserGroup::\"AVP_User\", action == PetStore::Action::\"get /pets/{petId}\", resource);";
/// When each write happens, as a fraction of the run: the first candidate staged, the
/// second staged in its place, the second promoted.
/// All three fall in the first half of the run, which the memory check leaves out as
/// warm-up: memory is judged with the promoted bundle in force and the candidate retired.
pub const SWAPS: [f64; 3] = [0.1, 0.25, 0.4];

/// Which candidate's `forbid` changes a kind of request's decision.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Changed {
    Neither,
    /// The first candidate (`get /pets` for AVP_User).
    First,
    /// The second, and so the promoted bundle (`get /pets/{petId}` for AVP_User).
    Second,
}

/// The signed documents of the run.
pub struct Bundles {
    pub public_key: String,
    live: String,
    first: String,
    second: String,
    promoted: String,
}

impl Bundles {
    /// The four documents, signed by a key of this run.
    pub fn sign() -> Self {
        let key = bundles::run_key("soak").unwrap();
        let sign = |source: BundleSource, serial: u64, slot: BundleSlot| {
            bundles::signed(&key, source, serial, AUDIENCE, slot).unwrap()
        };
        Self {
            public_key: key.public_key().to_base64url(),
            live: sign(
                cedargate::examples::petstore_source(),
                LIVE_SERIAL,
                BundleSlot::Live,
            ),
            first: sign(
                bundles::petstore_with(FIRST_FORBID),
                FIRST_SERIAL,
                BundleSlot::Staged,
            ),
            second: sign(
                bundles::petstore_with(SECOND_FORBID),
                SECOND_SERIAL,
                BundleSlot::Staged,
            ),
            promoted: sign(
                bundles::petstore_with(SECOND_FORBID),
                PROMOTED_SERIAL,
                BundleSlot::Live,
            ),
        }
    }

    /// The worker's `bundle_kv` setting.
    pub fn config(&self) -> Value {
        json!({
            "binding": BINDING, "key": LIVE_KEY, "refresh_seconds": REFRESH_SECONDS,
            "public_key": self.public_key, "audience": AUDIENCE,
            "staged_key": STAGED_KEY, "shadow_percent": 100,
        })
    }

    /// Writes the live document (before the worker starts).
    pub fn install(&self, kv: &KvServer) {
        kv.put(LIVE_KEY, &self.live);
    }
}

/// When the writes happened, in seconds since the load started; each is set just before
/// its entry is written.
pub struct Timeline {
    pub started: Instant,
    pub first: OnceLock<f64>,
    pub second: OnceLock<f64>,
    pub promoted: OnceLock<f64>,
}

/// Which bundle an answer must be from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum When {
    /// Received before the promoted document was written: the first live bundle.
    Before,
    /// Sent a window after it: the promoted bundle.
    After,
    /// In between: either.
    Window,
}

impl Timeline {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            first: OnceLock::new(),
            second: OnceLock::new(),
            promoted: OnceLock::new(),
        }
    }

    /// Seconds since the load started.
    pub fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Which bundle answers a request sent at `start` and answered at `end` (seconds), asked
    /// after the answer arrived.
    pub fn when(&self, start: f64, end: f64) -> When {
        match self.promoted.get() {
            None => When::Before,
            Some(&p) if end < p => When::Before,
            Some(&p) if start >= p + WINDOW_SECONDS => When::After,
            Some(_) => When::Window,
        }
    }
}

/// Writes the entries at [`SWAPS`] of `seconds`, unless stopped first.
pub fn swap(
    kv: &KvServer,
    bundles: &Bundles,
    timeline: &Timeline,
    seconds: u64,
    stop: &AtomicBool,
) {
    let steps: [(&OnceLock<f64>, &str, &str); 3] = [
        (&timeline.first, STAGED_KEY, &bundles.first),
        (&timeline.second, STAGED_KEY, &bundles.second),
        (&timeline.promoted, LIVE_KEY, &bundles.promoted),
    ];
    for ((at, key, document), fraction) in steps.into_iter().zip(SWAPS) {
        let due = Duration::from_secs_f64(seconds as f64 * fraction);
        while timeline.started.elapsed() < due {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = at.set(timeline.now());
        kv.put(key, document);
        eprintln!("[soak] {:.1} s: wrote {key}", timeline.now());
    }
}

/// One request as the soak saw it: its kind, when it was sent and answered (seconds since
/// the load started) and the worker's request id.
pub struct Seen {
    pub case: usize,
    pub start: f64,
    pub end: f64,
    pub id: String,
}

/// A stretch of the run in which one candidate (or none) is staged for sure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    First,
    Second,
    Promoted,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::First => "first candidate staged",
            Phase::Second => "second candidate staged",
            Phase::Promoted => "second candidate promoted",
        }
    }

    /// The `forbid` whose `decision_changed` requests of `changed` have in this phase.
    fn expects(self, changed: Changed) -> Option<&'static str> {
        match (self, changed) {
            (Phase::First, Changed::First) => Some(FIRST_POLICY),
            (Phase::Second, Changed::Second) => Some(SECOND_POLICY),
            _ => None,
        }
    }
}

/// One row of the report: a kind of request in a phase.
#[derive(serde::Serialize)]
pub struct Row {
    /// The phase's and the kind's places, for the order of the rows.
    #[serde(skip)]
    order: (usize, usize),
    phase: &'static str,
    /// A kind a candidate changes, or every other kind together.
    case: String,
    /// Requests sent and answered inside the phase.
    requests: u64,
    /// Of them, with a `decision_changed` line.
    changed: u64,
    /// Whether each should have one.
    expected: bool,
    wrong: u64,
}

/// What the staged part of the run showed.
#[derive(serde::Serialize)]
pub struct Outcome {
    pub first_staged_at: Option<f64>,
    pub second_staged_at: Option<f64>,
    pub promoted_at: Option<f64>,
    rows: Vec<Row>,
    /// Requests within a window after a write (not judged for `decision_changed`).
    in_windows: u64,
    decision_changed_lines: u64,
    /// `decision_changed` lines of no request the soak saw answered.
    unmatched: u64,
    /// The worker's bundle events: name and serial.
    events: Vec<(String, Option<u64>)>,
    kv_reads: u64,
    pub problems: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Judges the `decision_changed` lines of `log` against the requests seen.
pub fn judge(
    cases: &[(&'static str, Changed)],
    seen: &[Seen],
    log: &str,
    timeline: &Timeline,
    kv_reads: u64,
) -> Outcome {
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str(&line[line.find('{')?..]).ok())
        .filter(|l: &Value| l["event"].is_string())
        .collect();
    let mut changes: HashMap<&str, Vec<&Value>> = HashMap::new();
    let mut decision_changed_lines = 0;
    let mut events = Vec::new();
    for line in &lines {
        if line["event"] == "decision_changed" {
            decision_changed_lines += 1;
            if let Some(id) = line["request_id"].as_str() {
                changes.entry(id).or_default().push(line);
            }
        } else if line["event"]
            .as_str()
            .is_some_and(|e| e.starts_with("bundle_") || e.starts_with("staged_bundle_"))
        {
            events.push((
                line["event"].as_str().unwrap_or_default().to_owned(),
                line["serial"].as_u64(),
            ));
        }
    }
    let first = timeline.first.get().copied();
    let second = timeline.second.get().copied();
    let promoted = timeline.promoted.get().copied();
    let mut problems = Vec::new();
    if first.is_none() || second.is_none() || promoted.is_none() {
        problems.push("the run ended before every write".to_owned());
    }
    // The phase a request was sent and answered in, if wholly inside one.
    let phase = |s: &Seen| -> Option<Phase> {
        let inside = |from: Option<f64>, to: Option<f64>| {
            from.is_some_and(|f| s.start >= f + WINDOW_SECONDS) && to.is_none_or(|t| s.end < t)
        };
        if inside(first, second) {
            Some(Phase::First)
        } else if inside(second, promoted) {
            Some(Phase::Second)
        } else if inside(promoted, None) {
            Some(Phase::Promoted)
        } else {
            None
        }
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut index: HashMap<(usize, usize), usize> = HashMap::new();
    let unchanged = cases.iter().filter(|(_, c)| *c == Changed::Neither).count();
    let mut in_windows = 0;
    let mut matched = 0u64;
    for s in seen {
        let found = changes.get(s.id.as_str()).map_or(&[][..], |v| v.as_slice());
        matched += found.len() as u64;
        let before_staging = first.is_none_or(|f| s.end < f);
        if before_staging {
            if !found.is_empty() {
                problems.push(format!(
                    "decision_changed before anything was staged: {}",
                    found[0]
                ));
            }
            continue;
        }
        let Some(phase) = phase(s) else {
            in_windows += 1;
            continue;
        };
        let (name, changed) = cases[s.case];
        let expects = phase.expects(changed);
        // The kinds no candidate changes share a row.
        let kind = if changed == Changed::Neither {
            usize::MAX
        } else {
            s.case
        };
        let slot = *index.entry((phase as usize, kind)).or_insert_with(|| {
            rows.push(Row {
                order: (phase as usize, kind),
                phase: phase.name(),
                case: if kind == usize::MAX {
                    format!("the {unchanged} other kinds of request")
                } else {
                    name.to_owned()
                },
                requests: 0,
                changed: 0,
                expected: expects.is_some(),
                wrong: 0,
            });
            rows.len() - 1
        });
        let row = &mut rows[slot];
        row.requests += 1;
        if !found.is_empty() {
            row.changed += 1;
        }
        let right = match expects {
            None => found.is_empty(),
            Some(policy) => {
                found.len() == 1
                    && found[0]["staged"] == json!({ "decision": "deny", "policies": [policy] })
                    && found[0]["live"]["decision"] == "allow"
            }
        };
        if !right {
            row.wrong += 1;
            if problems.len() < 10 {
                problems.push(format!(
                    "{} ({}), request {} at {:.2}-{:.2} s: {} decision_changed line(s) {}",
                    name,
                    phase.name(),
                    s.id,
                    s.start,
                    s.end,
                    found.len(),
                    found.first().map(|l| l.to_string()).unwrap_or_default()
                ));
            }
        }
    }
    rows.sort_by_key(|r| r.order);
    let unmatched = decision_changed_lines - matched;
    if unmatched > 0 {
        problems.push(format!(
            "{unmatched} decision_changed line(s) of no request the soak saw answered"
        ));
    }
    for (phase, changed) in [
        (Phase::First, Changed::First),
        (Phase::Second, Changed::Second),
    ] {
        if !rows
            .iter()
            .any(|r| r.phase == phase.name() && r.expected && r.requests > 0)
            && promoted.is_some()
        {
            problems.push(format!(
                "no request of the kind {changed:?} changes was answered while {}",
                phase.name()
            ));
        }
    }
    let has =
        |event: &str, serial: u64| events.iter().any(|(e, s)| e == event && *s == Some(serial));
    for (event, serial) in [
        ("staged_bundle_updated", FIRST_SERIAL),
        ("staged_bundle_updated", SECOND_SERIAL),
        ("bundle_updated", PROMOTED_SERIAL),
        ("staged_bundle_retired", SECOND_SERIAL),
    ] {
        if promoted.is_some() && !has(event, serial) {
            problems.push(format!(
                "the worker did not log {event} for serial {serial}"
            ));
        }
    }
    for (event, _) in &events {
        if event.ends_with("_refused")
            || event.ends_with("_rejected")
            || event.ends_with("_unreadable")
            || event.ends_with("_missing")
        {
            problems.push(format!("the worker logged {event}"));
        }
    }
    Outcome {
        first_staged_at: first,
        second_staged_at: second,
        promoted_at: promoted,
        rows,
        in_windows,
        decision_changed_lines,
        unmatched,
        events,
        kv_reads,
        problems,
    }
}

/// The report's section.
pub fn render(s: &mut String, outcome: &Outcome, answers_in_window: (u64, u64)) {
    let at = |t: Option<f64>| t.map_or("never".to_owned(), |t| format!("{t:.1} s"));
    writeln!(
        s,
        "\n## Staged bundles\n\nThe worker read its bundles from KV every {REFRESH_SECONDS} s \
         ({} reads), the live entry holding the PetStore bundle (serial {LIVE_SERIAL}), and \
         compared every decided request with the staged candidate (`shadow_percent` 100).\n",
        outcome.kv_reads
    )
    .unwrap();
    writeln!(s, "| at | written | document |\n|---:|---|---|").unwrap();
    writeln!(
        s,
        "| {} | `staged` | first candidate, serial {FIRST_SERIAL}: `forbid` `{FIRST_POLICY}` \
         (AVP_User, `get /pets`) |",
        at(outcome.first_staged_at)
    )
    .unwrap();
    writeln!(
        s,
        "| {} | `staged` | second candidate, serial {SECOND_SERIAL}: `forbid` \
         `{SECOND_POLICY}` (AVP_User, `get /pets/{{petId}}`) in its place |",
        at(outcome.second_staged_at)
    )
    .unwrap();
    writeln!(
        s,
        "| {} | `current` | the second candidate promoted, live, serial {PROMOTED_SERIAL} |",
        at(outcome.promoted_at)
    )
    .unwrap();
    let events: Vec<String> = outcome
        .events
        .iter()
        .map(|(e, serial)| match serial {
            Some(n) => format!("`{e}` {n}"),
            None => format!("`{e}`"),
        })
        .collect();
    writeln!(
        s,
        "\nThe worker's bundle events, in order: {}.",
        events.join(", ")
    )
    .unwrap();
    writeln!(
        s,
        "\nAround the promotion (from its write until {WINDOW_SECONDS:.0} s later) either \
         bundle may answer: {} answers of the kind it changes were still the first live \
         bundle's, {} already the promoted one's; before, only the first, after, only the \
         promoted bundle's answers are right (the table above).",
        answers_in_window.0, answers_in_window.1
    )
    .unwrap();
    writeln!(
        s,
        "\n`decision_changed` lines by phase (requests sent at least {WINDOW_SECONDS:.0} s \
         after a write and answered before the next; {} requests in those windows are not \
         judged). {} lines in all, {} of no request the soak saw.\n",
        outcome.in_windows, outcome.decision_changed_lines, outcome.unmatched
    )
    .unwrap();
    writeln!(
        s,
        "| phase | request | requests | with decision_changed | expected | wrong |\n|---|---|---:|---:|---|---:|"
    )
    .unwrap();
    for row in &outcome.rows {
        if row.requests == 0 {
            continue;
        }
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            row.phase,
            row.case,
            row.requests,
            row.changed,
            if row.expected { "every one" } else { "none" },
            row.wrong
        )
        .unwrap();
    }
    for problem in &outcome.problems {
        writeln!(s, "\n- {problem}").unwrap();
    }
    writeln!(
        s,
        "\nStaged bundles: {}.",
        if outcome.passed() {
            "as expected"
        } else {
            "WRONG"
        }
    )
    .unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(first: f64, second: f64, promoted: f64) -> Timeline {
        let t = Timeline::new();
        let _ = t.first.set(first);
        let _ = t.second.set(second);
        let _ = t.promoted.set(promoted);
        t
    }

    fn seen(case: usize, start: f64, id: &str) -> Seen {
        Seen {
            case,
            start,
            end: start + 0.01,
            id: id.to_owned(),
        }
    }

    fn changed(id: &str, policy: &str) -> String {
        json!({
            "event": "decision_changed", "request_id": id, "action": "get /pets",
            "live": { "decision": "allow", "policies": ["avp-user-all-but-post-pets"] },
            "staged": { "decision": "deny", "policies": [policy] },
        })
        .to_string()
    }

    const EVENTS: &str = r#"{"event":"bundle_updated","serial":10}
{"event":"staged_bundle_updated","serial":20}
{"event":"staged_bundle_updated","serial":30}
{"event":"bundle_updated","serial":40}
{"event":"staged_bundle_retired","serial":30}"#;

    const KINDS: [(&str, Changed); 3] = [
        ("lists", Changed::First),
        ("reads", Changed::Second),
        ("admin", Changed::Neither),
    ];

    #[test]
    fn either_answer_only_within_the_window_after_the_promotion() {
        let t = Timeline::new();
        assert_eq!(t.when(50.0, 51.0), When::Before, "not promoted yet");
        let t = timeline(10.0, 20.0, 30.0);
        assert_eq!(t.when(29.0, 29.9), When::Before);
        assert_eq!(t.when(29.9, 30.1), When::Window);
        assert_eq!(t.when(32.9, 33.0), When::Window);
        assert_eq!(t.when(33.0, 33.1), When::After);
    }

    #[test]
    fn exactly_the_changed_requests_of_each_phase_have_a_line() {
        let t = timeline(10.0, 20.0, 30.0);
        let requests = [
            seen(0, 5.0, "a"),  // before anything was staged
            seen(0, 14.0, "b"), // first candidate: changed
            seen(1, 14.0, "c"),
            seen(2, 14.0, "d"),
            seen(0, 11.0, "e"), // a window: not judged
            seen(1, 24.0, "f"), // second candidate: changed
            seen(0, 24.0, "g"),
            seen(1, 40.0, "h"), // promoted: nothing compared
        ];
        let log = format!(
            "{EVENTS}\n{}\n{}\n{}",
            changed("b", FIRST_POLICY),
            changed("e", FIRST_POLICY),
            changed("f", SECOND_POLICY)
        );
        let outcome = judge(&KINDS, &requests, &log, &t, 3);
        assert!(outcome.passed(), "{:?}", outcome.problems);
        assert_eq!(outcome.in_windows, 1);
        assert_eq!(outcome.decision_changed_lines, 3);
        let rows: Vec<(&str, &str, u64, u64)> = outcome
            .rows
            .iter()
            .map(|r| (r.phase, r.case.as_str(), r.requests, r.changed))
            .collect();
        assert_eq!(
            rows,
            [
                ("first candidate staged", "lists", 1, 1),
                ("first candidate staged", "reads", 1, 0),
                (
                    "first candidate staged",
                    "the 1 other kinds of request",
                    1,
                    0
                ),
                ("second candidate staged", "lists", 1, 0),
                ("second candidate staged", "reads", 1, 1),
                ("second candidate promoted", "reads", 1, 0),
            ]
        );
    }

    #[test]
    fn a_missing_a_stray_or_a_wrong_line_fails() {
        let t = timeline(10.0, 20.0, 30.0);
        let requests = [seen(0, 14.0, "b"), seen(2, 14.0, "d"), seen(1, 24.0, "f")];
        let cases = [
            // The changed request without its line.
            format!("{EVENTS}\n{}", changed("f", SECOND_POLICY)),
            // An unchanged request with one.
            format!(
                "{EVENTS}\n{}\n{}\n{}",
                changed("b", FIRST_POLICY),
                changed("d", FIRST_POLICY),
                changed("f", SECOND_POLICY)
            ),
            // The other candidate's forbid.
            format!(
                "{EVENTS}\n{}\n{}",
                changed("b", SECOND_POLICY),
                changed("f", SECOND_POLICY)
            ),
            // A line of no request seen.
            format!(
                "{EVENTS}\n{}\n{}\n{}",
                changed("b", FIRST_POLICY),
                changed("f", SECOND_POLICY),
                changed("zz", FIRST_POLICY)
            ),
            // The candidate never retired.
            format!(
                "{}\n{}\n{}",
                EVENTS.replace("staged_bundle_retired", "other"),
                changed("b", FIRST_POLICY),
                changed("f", SECOND_POLICY)
            ),
        ];
        for (i, log) in cases.iter().enumerate() {
            assert!(!judge(&KINDS, &requests, log, &t, 3).passed(), "case {i}");
        }
        let right = format!(
            "{EVENTS}\n{}\n{}",
            changed("b", FIRST_POLICY),
            changed("f", SECOND_POLICY)
        );
        assert!(judge(&KINDS, &requests, &right, &t, 3).passed());
        let refused = format!("{right}\n{{\"event\":\"staged_bundle_refused\"}}");
        assert!(!judge(&KINDS, &requests, &refused, &t, 3).passed());
    }
}
