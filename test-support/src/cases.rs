//! The token case table (`shared/tests/data/token_cases.toml`): reading it and minting each
//! case's token, for the shared core's tests (fixed time, fixed issuers) and the worker's
//! tests in workerd (real time, the test provider's issuers).

use crate::{
    ISSUER_A, ISSUER_B, ISSUER_C, NOW, Signer, access_claims, b64, default_alg, id_claims, key,
    sign,
};
use cedargate::UnixTime;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Where and when tokens are minted.
#[derive(Debug)]
pub struct CaseEnv {
    /// The time tokens are issued at.
    pub now: UnixTime,
    /// The issuers that stand for A, B and C of the table.
    pub issuers: [String; 3],
}

impl CaseEnv {
    /// The shared core's tests: the fixed test time and issuers.
    pub fn fixed() -> Self {
        Self {
            now: NOW,
            issuers: [ISSUER_A.into(), ISSUER_B.into(), ISSUER_C.into()],
        }
    }

    fn rewrite_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (constant, actual) in [ISSUER_A, ISSUER_B, ISSUER_C].iter().zip(&self.issuers) {
            out = out.replace(&format!("\"{constant}\""), &format!("\"{actual}\""));
        }
        out
    }

    fn rewrite(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                for (constant, actual) in [ISSUER_A, ISSUER_B, ISSUER_C].iter().zip(&self.issuers) {
                    if s == constant {
                        *s = actual.clone();
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.rewrite(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.rewrite(v)),
            _ => {}
        }
    }
}

/// The table: the file's `[[case]]` entries, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The cases.
    pub case: Vec<Case>,
}

/// One token, described by how it differs from a valid one (the fields are explained at
/// the top of the table's file); [`build`] mints it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique in the table.
    pub name: String,
    /// `ok`, or the stable name of the error the shared core refuses the token with
    /// (`TokenErrorKind::as_str`).
    pub expect: String,
    /// What the worker answers where its bearer-header parsing decides first.
    #[serde(default)]
    pub edge_expect: Option<String>,
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

/// The token of a case.
pub fn build(case: &Case, env: &CaseEnv) -> String {
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
    let mut base = if id {
        id_claims("alice", &["AVP_Admin"], env.now)
    } else {
        access_claims("alice", env.now)
    };
    env.rewrite(&mut base);
    let Value::Object(mut claims) = base else {
        unreachable!()
    };
    let mut changes = Value::Object(case.claims.clone());
    env.rewrite(&mut changes);
    if let Value::Object(changes) = changes {
        merge(&mut claims, &changes);
    }
    for (name, offset) in &case.times {
        claims.insert(
            name.clone(),
            json!(env.now.seconds() + offset.as_i64().unwrap()),
        );
    }
    let header_json = case
        .header_json
        .clone()
        .unwrap_or_else(|| Value::Object(header.clone()).to_string());
    let mut claims_json = case
        .claims_json
        .as_deref()
        .map(|text| env.rewrite_text(text))
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
                .filter(|a| cedargate::Algorithm::from_name(a).is_some())
                .unwrap_or(alg),
            key_name,
            signing_input.as_bytes(),
        ),
        "none" => Vec::new(),
        "hmac-public-key" => {
            use jwt_compact::{Algorithm as _, AlgorithmSignature as _};
            use rsa::pkcs8::EncodePublicKey as _;
            let Signer::Rsa(private) = &key("a-rsa-1").signer else {
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

/// The table.
pub fn table() -> Table {
    toml::from_str(include_str!("../../shared/tests/data/token_cases.toml")).unwrap()
}
