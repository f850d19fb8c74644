//! The token case table (data/token_cases.toml), run through `Trust::parse` and
//! `Trust::verify` with every signature backend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use support::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    expect: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    header: Map<String, Value>,
    #[serde(default)]
    claims: Map<String, Value>,
    #[serde(default)]
    times: Map<String, Value>,
    #[serde(default)]
    header_json: Option<String>,
    #[serde(default)]
    claims_json: Option<String>,
    #[serde(default)]
    sign: Option<String>,
    #[serde(default)]
    tamper: Vec<String>,
    #[serde(default)]
    pad_to: Option<usize>,
    #[serde(default)]
    raw: Option<String>,
}

fn merge(target: &mut Map<String, Value>, changes: &Map<String, Value>) {
    for (k, v) in changes {
        if v == "<remove>" {
            target.remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}

fn build(case: &Case) -> String {
    if let Some(raw) = &case.raw {
        return raw.clone();
    }
    let key_name = case.key.as_deref().unwrap_or("a-rsa-1");
    let alg = case.alg.as_deref().unwrap_or(default_alg(key_name));
    let id = case.kind.as_deref() == Some("id");
    let mut header: Map<String, Value> = match json!({
        "alg": alg,
        "kid": key(key_name).kid,
        "typ": if id { "JWT" } else { "at+jwt" },
    }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    merge(&mut header, &case.header);
    let base = if id {
        id_claims("alice", &["AVP_Admin"], NOW)
    } else {
        access_claims("alice", NOW)
    };
    let Value::Object(mut claims) = base else {
        unreachable!()
    };
    merge(&mut claims, &case.claims);
    for (name, offset) in &case.times {
        claims.insert(
            name.clone(),
            json!(NOW.seconds() + offset.as_i64().unwrap()),
        );
    }
    let header_json = case
        .header_json
        .clone()
        .unwrap_or_else(|| Value::Object(header.clone()).to_string());
    let mut claims_json = case
        .claims_json
        .clone()
        .unwrap_or_else(|| Value::Object(claims.clone()).to_string());
    if let Some(target) = case.pad_to {
        claims.insert("filler".into(), json!(""));
        let bare = Value::Object(claims.clone()).to_string();
        let fill = (target * 3 / 4).saturating_sub(bare.len());
        claims.insert("filler".into(), json!("x".repeat(fill)));
        claims_json = Value::Object(claims).to_string();
    }
    let signing_input = format!(
        "{}.{}",
        b64(header_json.as_bytes()),
        b64(claims_json.as_bytes())
    );
    let signature = match case.sign.as_deref().unwrap_or("key") {
        "key" => sign(
            header
                .get("alg")
                .and_then(Value::as_str)
                .filter(|a| ["RS256", "RS384", "RS512", "PS256", "ES256", "EdDSA"].contains(a))
                .unwrap_or(alg),
            key_name,
            signing_input.as_bytes(),
        ),
        "none" => Vec::new(),
        "hmac-public-key" => {
            use jwt_compact::{Algorithm as _, AlgorithmSignature as _};
            use rsa::pkcs8::EncodePublicKey as _;
            let support::Signer::Rsa(private) = &key("a-rsa-1").signer else {
                unreachable!()
            };
            let pem = private
                .to_public_key()
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap();
            let secret = jwt_compact::alg::Hs256Key::new(pem.as_bytes());
            jwt_compact::alg::Hs256
                .sign(&secret, signing_input.as_bytes())
                .as_bytes()
                .into_owned()
        }
        other => panic!("unknown sign mode {other}"),
    };
    let mut token = format!("{signing_input}.{}", b64(&signature));
    for op in &case.tamper {
        token = match op.as_str() {
            "strip_signature" => format!("{signing_input}."),
            "truncate_signature" => {
                format!(
                    "{signing_input}.{}",
                    b64(&signature[..signature.len() - 10])
                )
            }
            "zero_signature" => format!("{signing_input}.{}", b64(&[0u8; 64])),
            "append_segment" => format!("{token}.e30"),
            "drop_signature_segment" => signing_input.clone(),
            "surround_spaces" => format!(" {token} "),
            other => panic!("unknown tamper {other}"),
        };
    }
    token
}

fn table() -> Table {
    toml::from_str(include_str!("data/token_cases.toml")).unwrap()
}

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
        let mut failures = Vec::new();
        let mut ran = 0;
        for backend in backends() {
            for case in table().case {
                let token = build(&case);
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
