//! The OpenID AuthZEN 1.0 certification scenario over HTTP (`target/edge-authzen-cert`: the
//! reference bundle `policies/authzen-cert`, the scenario's fixture, compiled in): every test
//! of every level (`cedargate_test_support::certification`) asked of the worker in workerd,
//! with a policy enforcement point's token, writing its table to
//! `target/authzen/certification-workerd.md`.

use super::*;
use cedargate_test_support::certification::{self, Api, Outcome, Sent, Transport};
use cedargate_tests::pingone::LocalProvider;

const BASE_URL: &str = "https://cert-pdp.e2e.test";

pub struct Cert {
    _provider: LocalProvider,
    _origin: EchoOrigin,
    w: Wrangler,
    issuer: String,
}

pub const CHECKS: &[Check<Cert>] = checks![
    every_level_of_the_certification_scenario_passes_over_http,
    the_metadata_names_all_five_endpoints,
    only_services_with_the_evaluate_scope_may_search,
];

pub fn start() -> Result<Cert, String> {
    let main = built_worker("edge-authzen-cert")?;
    let provider = LocalProvider::start("env-cert-pdp", API)?;
    let issuer = provider.issuer().to_owned();
    let origin = EchoOrigin::start()?;
    let config = authzen_config(&issuer, &origin, BASE_URL);
    let w = Wrangler::start("edge-cert-pdp", &config, &json!({ "main": main }))?;
    Ok(Cert {
        _provider: provider,
        _origin: origin,
        w,
        issuer,
    })
}

/// An enforcement point's client-credentials token.
fn pep(issuer: &str, scope: &str) -> String {
    access_token(issuer, json!({ "client_id": "cert-pep", "scope": scope }))
}

/// The worker as the scenario's transport: HTTP, with the enforcement point's token.
struct Http<'a> {
    w: &'a Wrangler,
    token: String,
}

impl Transport for Http<'_> {
    fn http(&self) -> bool {
        true
    }

    fn send(&mut self, sent: Sent<'_>) -> Result<certification::Reply, String> {
        let auth = bearer(&self.token);
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(content_type) = sent.content_type {
            headers.push(("content-type", content_type));
        }
        if let Some(id) = sent.request_id {
            headers.push(("x-request-id", id));
        }
        let reply = http::send(
            "POST",
            &self.w.url(sent.api.path()),
            &headers,
            Some(sent.body),
        )?;
        Ok(converted(reply))
    }

    fn metadata(&mut self) -> Result<certification::Reply, String> {
        let reply = http::send(
            "GET",
            &self.w.url("/.well-known/authzen-configuration"),
            &[],
            None,
        )?;
        Ok(converted(reply))
    }

    fn base_url(&self) -> String {
        BASE_URL.into()
    }
}

fn converted(reply: Reply) -> certification::Reply {
    certification::Reply {
        status: reply.status,
        content_type: reply.header("content-type").map(str::to_owned),
        request_ids: reply
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-request-id"))
            .map(|(_, v)| v.clone())
            .collect(),
        body: reply.body,
    }
}

fn every_level_of_the_certification_scenario_passes_over_http(s: &Cert) -> Result<(), String> {
    let mut transport = Http {
        w: &s.w,
        token: pep(&s.issuer, "authzen:evaluate"),
    };
    let results = certification::run(&mut transport);
    let table = certification::table(
        "AuthZEN 1.0 certification (the worker in workerd)",
        &results,
    );
    let dir = cedargate_tests::root().join("target/authzen");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("certification-workerd.md"), &table).map_err(|e| e.to_string())?;
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.outcome != Outcome::Pass)
        .map(|r| format!("{} {:?}", r.id, r.outcome))
        .collect();
    ensure(failed.is_empty(), || format!("{failed:?}\n{table}"))?;
    same(results.len(), 48, "tests run")
}

fn the_metadata_names_all_five_endpoints(s: &Cert) -> Result<(), String> {
    let reply = http::send(
        "GET",
        &s.w.url("/.well-known/authzen-configuration"),
        &[],
        None,
    )?;
    same(reply.status, 200, "metadata")?;
    let doc = reply.json();
    for api in Api::ALL {
        same(
            doc[api.metadata_member()].as_str().map(str::to_owned),
            Some(format!("{BASE_URL}{}", api.path())),
            api.metadata_member(),
        )?;
    }
    Ok(())
}

fn only_services_with_the_evaluate_scope_may_search(s: &Cert) -> Result<(), String> {
    let question = json!({"subject": {"type": "user"}, "action": {"name": "read"},
                          "resource": {"type": "record", "id": "record-1"}})
    .to_string();
    // A person, even with the scope: no policy lets a User ask.
    let person = access_token(
        &s.issuer,
        json!({ "sub": "alice", "client_id": "cert-spa", "scope": "authzen:evaluate" }),
    );
    let other_scope = pep(&s.issuer, "profile");
    for (who, token, status) in [
        ("a person", Some(person.as_str()), 403),
        (
            "a service without the scope",
            Some(other_scope.as_str()),
            403,
        ),
        ("no one", None, 401),
    ] {
        for path in ["/access/v1/search/subject", "/access/v1/search/resource"] {
            let auth = token.map(bearer);
            let mut headers = vec![("content-type", "application/json")];
            if let Some(a) = &auth {
                headers.push(("authorization", a.as_str()));
            }
            let reply = http::send("POST", &s.w.url(path), &headers, Some(question.as_bytes()))?;
            same(reply.status, status, &format!("{who} on {path}"))?;
            ensure(reply.json().get("results").is_none(), || {
                format!("{who} learned results on {path}")
            })?;
        }
    }
    Ok(())
}
