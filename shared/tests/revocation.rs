//! The emergency deny list: token ids and session ids refused although their tokens verify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate::revocation::{DenyList, DenyListError, MAX_DENY_LIST_BYTES};
use cedargate_test_support::*;
use serde_json::json;

async_test! {
    async fn listed_token_and_session_ids_are_denied_and_nothing_else() {
        let list = DenyList::from_json(r#"{ "jti": ["t-bad"], "sid": ["s-bad"] }"#).unwrap();
        assert_eq!(list.len(), 2);
        let backend = backends().remove(0);
        let verified = |jti: Option<&str>, sid: Option<&str>| {
            let mut claims = id_claims("alice", &["AVP_Admin"], NOW);
            if let Some(j) = jti { claims["jti"] = json!(j); }
            if let Some(s) = sid { claims["sid"] = json!(s); }
            mint(&claims, "a-rsa-1", "JWT")
        };
        for (jti, sid, denied) in [
            (Some("t-bad"), None, Some("jti")),
            (None, Some("s-bad"), Some("sid")),
            (Some("t-ok"), Some("s-bad"), Some("sid")),
            (Some("t-ok"), Some("s-ok"), None),
            (None, None, None),
            // Ids are compared exactly.
            (Some("T-BAD"), Some("s-bad "), None),
        ] {
            let (token, _) = authenticate(&verified(jti, sid), &backend, NOW).await.unwrap();
            assert_eq!(list.denies(&token), denied, "{jti:?} {sid:?}");
        }
        assert!(DenyList::from_json("{}").unwrap().is_empty());
    }
}

#[test]
fn only_the_documented_shape_is_read() {
    for bad in [
        r#"{ "jti": "t-bad" }"#,
        r#"{ "jti": [1] }"#,
        r#"{ "sub": ["alice"] }"#,
        r#"{ "jti": [], "jti": ["t"] }"#,
        "[]",
        "not json",
    ] {
        assert!(
            matches!(DenyList::from_json(bad), Err(DenyListError::Shape(_))),
            "{bad}"
        );
    }
    let huge = format!(r#"{{ "jti": ["{}"] }}"#, "x".repeat(MAX_DENY_LIST_BYTES));
    assert!(matches!(
        DenyList::from_json(&huge),
        Err(DenyListError::TooLarge(_))
    ));
}
