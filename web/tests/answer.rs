//! How the app reads what the edge answered to a try (natively and in the browser).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::StepUp;
use cedargate::wire::ProblemDocument;
use cedargate_web::answer::{Answer, MAX_BODY_CHARS, reason_phrase};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn problem_body(edit: impl FnOnce(&mut ProblemDocument)) -> String {
    let mut doc = ProblemDocument::new(
        "forbidden",
        "Forbidden",
        403,
        "the policies deny post /pets",
    );
    edit(&mut doc);
    serde_json::to_string(&doc).unwrap()
}

#[test]
fn a_deny_reads_as_its_title_detail_and_policies() {
    let body = problem_body(|d| {
        d.action = Some("post /pets".into());
        d.policies = Some(vec!["users-may-not-create".into()]);
        d.request_id = Some("r-1".into());
    });
    let answer = Answer::read(403, Some("application/problem+json; charset=utf-8"), &body);
    assert_eq!(answer.summary(), "403 Forbidden");
    assert_eq!(answer.detail(), Some("the policies deny post /pets"));
    assert_eq!(answer.policies(), ["users-may-not-create"]);
    assert_eq!(answer.request_id(), Some("r-1"));
    assert_eq!(answer.reason(), None);
    assert_eq!(answer.step_up(), None);
    assert_eq!(
        answer.media_type.as_deref(),
        Some("application/problem+json")
    );
}

#[test]
fn a_refused_token_reads_as_its_reason_and_a_step_up_as_its_challenge() {
    let body = problem_body(|d| {
        d.status = Some(401);
        d.title = Some("Invalid token".into());
        d.reason = Some("inactive".into());
    });
    let answer = Answer::read(401, Some("application/problem+json"), &body);
    assert_eq!(answer.summary(), "401 Invalid token");
    assert_eq!(answer.reason(), Some("inactive"));
    let step_up = StepUp {
        acr_values: vec!["urn:cedargate:mfa".into()],
        max_age: Some(600),
    };
    let body = problem_body(|d| d.step_up = Some(step_up.clone()));
    assert_eq!(
        Answer::read(401, Some("application/problem+json"), &body).step_up(),
        Some(&step_up)
    );
    // A step-up member on anything but a 401 is not a challenge.
    assert_eq!(
        Answer::read(403, Some("application/problem+json"), &body).step_up(),
        None
    );
}

#[test]
fn only_the_problem_media_type_makes_a_refusal() {
    // The origin's own JSON error is not the edge's refusal, however it looks.
    let body = r#"{"title":"Forbidden","detail":"x","policies":["p"]}"#;
    let answer = Answer::read(404, Some("application/json"), body);
    assert_eq!(answer.problem, None);
    assert_eq!(answer.summary(), "404 Not Found");
    assert!(answer.policies().is_empty());
    assert_eq!(answer.body, body);
    assert_eq!(
        answer.body_label(),
        format!("{} B, application/json", body.len())
    );
    // A malformed problem body is kept as text.
    let answer = Answer::read(403, Some("application/problem+json"), "{not json");
    assert_eq!(answer.problem, None);
    assert_eq!(answer.summary(), "403 Forbidden");
    assert_eq!(answer.body, "{not json");
}

#[test]
fn a_long_body_is_capped_and_its_size_told() {
    let page = format!("<!doctype html>{}", "é".repeat(3_000));
    let answer = Answer::read(200, Some("Text/HTML; charset=utf-8"), &page);
    assert_eq!(answer.summary(), "200 OK");
    assert!(answer.truncated);
    assert_eq!(answer.body.chars().count(), MAX_BODY_CHARS);
    assert_eq!(answer.body_bytes, page.len());
    assert_eq!(answer.body_label(), "6.0 kB, text/html");
    let short = Answer::read(204, None, "");
    assert!(!short.truncated);
    assert_eq!(short.summary(), "204 No Content");
    assert_eq!(short.body_label(), "0 B");
    assert_eq!(Answer::read(299, None, "").summary(), "299");
    assert_eq!(reason_phrase(503), "Service Unavailable");
}
