//! The edge's list of what a person may do on its AuthZEN resources, arranged for showing
//! (natively and in the browser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::wire::PermittedResources;
use cedargate_web::permitted::{by_resource_type, count_text};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn permitted(resource_type: &str, action: &str, ids: &[&str]) -> PermittedResources {
    PermittedResources {
        resource_type: resource_type.into(),
        action: action.into(),
        ids: ids.iter().map(|i| i.to_string()).collect(),
    }
}

#[test]
fn actions_are_grouped_by_resource_type_and_an_id_names_its_actions() {
    let lists = by_resource_type(&[
        permitted("record", "delete", &["107", "101"]),
        permitted("record", "edit", &["101", "107", "110"]),
        permitted("folder", "view", &[]),
        permitted("record", "view", &["101", "102", "107", "110", "101"]),
    ]);
    assert_eq!(lists.len(), 2);
    let records = &lists[0];
    assert_eq!(records.resource_type, "record");
    assert_eq!(
        records.actions,
        [
            ("delete".to_owned(), vec!["101".to_owned(), "107".into()]),
            (
                "edit".to_owned(),
                vec!["101".to_owned(), "107".into(), "110".into()]
            ),
            (
                "view".to_owned(),
                vec!["101".to_owned(), "102".into(), "107".into(), "110".into()]
            ),
        ]
    );
    assert_eq!(records.actions_on("107"), ["delete", "edit", "view"]);
    assert_eq!(records.actions_on(" 110 "), ["edit", "view"]);
    assert_eq!(records.actions_on("102"), ["view"]);
    assert!(records.actions_on("10").is_empty());
    assert!(records.actions_on("").is_empty());
    assert_eq!(records.ids(), ["101", "102", "107", "110"]);
    assert_eq!(lists[1].resource_type, "folder");
    assert!(lists[1].ids().is_empty());
    assert!(by_resource_type(&[]).is_empty());
}

#[test]
fn counts_read_as_words() {
    assert_eq!(count_text(0, "record"), "no record");
    assert_eq!(count_text(1, "record"), "1 record");
    assert_eq!(count_text(5, "record"), "5 records");
}
