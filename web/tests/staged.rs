//! The live matrix beside the staged candidate's (natively and in the browser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::{ActionDecision, Outcome};
use cedargate_web::staged::{Comparison, compare, outcome_word};
use std::collections::BTreeMap;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn row(action: &str, outcome: Option<Outcome>, policies: &[&str]) -> ActionDecision {
    ActionDecision {
        action: action.into(),
        routes: vec![action.into()],
        outcome,
        policies: policies.iter().map(|p| p.to_string()).collect(),
        errors: Vec::new(),
        depends_on: Vec::new(),
    }
}

fn find<'c>(all: &'c [Comparison], action: &str) -> &'c Comparison {
    all.iter().find(|c| c.action == action).unwrap()
}

#[test]
fn a_staged_forbid_reads_as_allow_to_deny_with_its_policy() {
    let live = [
        row(
            "get /pets",
            Some(Outcome::Allow),
            &["avp-user-all-but-post-pets"],
        ),
        row("post /pets", Some(Outcome::Deny), &[]),
    ];
    let staged = [
        row(
            "get /pets",
            Some(Outcome::Deny),
            &["users-may-not-list-pets"],
        ),
        row("post /pets", Some(Outcome::Deny), &[]),
    ];
    let all = compare(&live, &staged, &BTreeMap::new());
    assert_eq!(all.len(), 2);
    let pets = find(&all, "get /pets");
    assert!(pets.changed() && pets.outcome_changed());
    assert_eq!(pets.change_text().as_deref(), Some("Allow → Deny"));
    assert_eq!(pets.staged_policies(), ["users-may-not-list-pets"]);
    assert!(
        pets.enforced,
        "an action the edge names no mode for is enforced"
    );
    let post = find(&all, "post /pets");
    assert!(!post.changed());
    assert_eq!(post.change_text(), None);
}

#[test]
fn the_same_outcome_by_other_policies_is_a_change_and_their_order_is_not() {
    let live = [row("get /", Some(Outcome::Allow), &["a", "b"])];
    let reordered = [row("get /", Some(Outcome::Allow), &["b", "a"])];
    assert!(!compare(&live, &reordered, &BTreeMap::new())[0].changed());
    let other = [row("get /", Some(Outcome::Allow), &["c"])];
    let all = compare(&live, &other, &BTreeMap::new());
    assert!(all[0].changed() && !all[0].outcome_changed());
    assert_eq!(
        all[0].change_text().as_deref(),
        Some("same outcome, other policies")
    );
}

#[test]
fn actions_added_dropped_or_undecided_are_named() {
    let live = [
        row("get /", Some(Outcome::Allow), &["a"]),
        row("get /pets", None, &["p"]),
    ];
    let staged = [
        row("get /pets", Some(Outcome::Allow), &["p"]),
        row("delete /pets/{petId}", Some(Outcome::Deny), &[]),
    ];
    let all = compare(&live, &staged, &BTreeMap::new());
    let order: Vec<&str> = all.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(order, ["get /", "get /pets", "delete /pets/{petId}"]);
    assert_eq!(
        find(&all, "get /").change_text().as_deref(),
        Some("Allow → No such action")
    );
    assert_eq!(
        find(&all, "get /pets").change_text().as_deref(),
        Some("Depends on the request → Allow")
    );
    assert_eq!(
        find(&all, "delete /pets/{petId}").change_text().as_deref(),
        Some("No such action → Deny")
    );
    assert_eq!(outcome_word(None), "No such action");
}

#[test]
fn a_monitored_action_is_marked_not_enforced() {
    let live = [
        row("post /pets", Some(Outcome::Deny), &[]),
        row("get /pets", Some(Outcome::Allow), &["a"]),
    ];
    let enforced = BTreeMap::from([
        ("post /pets".to_owned(), false),
        ("get /pets".to_owned(), true),
    ]);
    let all = compare(&live, &live, &enforced);
    assert!(!find(&all, "post /pets").enforced);
    assert!(find(&all, "get /pets").enforced);
    assert!(all.iter().all(|c| !c.changed()));
}
