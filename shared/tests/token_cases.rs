//! The token case table (data/token_cases.toml), run through `Trust::parse` and
//! `Trust::verify` with every signature backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_test_support::cases::{CaseEnv, build, table};
use cedargate_test_support::*;

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn case_table_is_sound() {
    let table = table();
    assert!(table.case.len() >= 60, "{} cases", table.case.len());
    let mut names: Vec<&str> = table.case.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "case names must be unique");
    assert!(table.case.iter().any(|c| c.expect == "ok"));
    assert!(table.case.iter().filter(|c| c.expect != "ok").count() >= 40);
}

async_test! {
    async fn every_token_case_holds_with_every_backend() {
        let env = CaseEnv::fixed();
        let mut failures = Vec::new();
        let mut ran = 0;
        for backend in backends() {
            for case in table().case {
                let token = build(&case, &env);
                let got = match authenticate(&token, &backend, NOW).await {
                    Ok(_) => "ok".to_owned(),
                    Err(cedargate::GateError::Token(err)) => {
                        assert!(
                            token.len() < 12 || !err.to_string().contains(&token[..12]),
                            "error message echoes the token: {err}"
                        );
                        err.kind().as_str().to_owned()
                    }
                    Err(other) => format!("{other:?}"),
                };
                ran += 1;
                if got != case.expect {
                    failures.push(format!(
                        "[{}] {}: expected {}, got {}",
                        backend_name(&backend),
                        case.name,
                        case.expect,
                        got
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{} of {ran} failed:\n{}", failures.len(), failures.join("\n"));
    }
}

fn backend_name(backend: &Backend) -> &'static str {
    use cedargate::SignatureBackend as _;
    backend.name()
}
