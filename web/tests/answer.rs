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

#[test]
fn the_origins_identity_echo_reads_as_lines() {
    let echo = r#"{"headers":{"x-cedargate-subject":"bob","x-cedargate-groups":"AVP_User"},"assertion":{"verified":true,"sub":"bob","groups":["AVP_User","staff"],"anonymous":false}}"#;
    let answer = Answer::read(200, Some("application/json"), "[]").with_identity_echo(Some(echo));
    let lines: Vec<(&str, &str)> = answer
        .identity
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            ("x-cedargate-subject", "bob"),
            ("x-cedargate-groups", "AVP_User"),
            ("assertion.verified", "true"),
            ("assertion.sub", "bob"),
            ("assertion.groups", "AVP_User, staff"),
            ("assertion.anonymous", "false"),
        ]
    );
    let none = Answer::read(200, None, "").with_identity_echo(None);
    assert!(none.identity.is_empty());
    let bad = Answer::read(200, None, "").with_identity_echo(Some("<html>"));
    assert_eq!(
        bad.identity,
        [("x-identity-echo".to_owned(), "not a JSON object".to_owned())]
    );
    let many: String = (0..100)
        .map(|i| format!(r#""x-cedargate-h{i}":"v""#))
        .collect::<Vec<_>>()
        .join(",");
    let long = Answer::read(200, None, "")
        .with_identity_echo(Some(&format!(r#"{{"headers":{{{many}}}}}"#)));
    assert_eq!(
        long.identity.len(),
        cedargate_web::answer::MAX_IDENTITY_LINES
    );
}
