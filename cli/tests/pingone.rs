//! `cedargate init --pingone-api-service` and `cedargate export --pingone-api-service` on the
//! fixtures of tests/data/pingone (written from PingOne's Platform API documentation, see
//! its README): the folders check clean, decide the fixture's decision table, round-trip,
//! and bad input is refused with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{cedargate, root};

use cedargate::decision_table::{CaseOutcome, DecisionTable};
use cedargate::{Bundle, ContextConfig, Gate, RequestValues, StepUp, TokenValue};
use cedargate_cli::{diff_decisions, folder, pingone};
use cedargate_test_support::{self as support, NOW};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

fn data(name: &str) -> String {
    format!("cli/tests/data/pingone/{name}")
}

/// A fresh directory under target/, not created.
fn scratch(name: &str) -> PathBuf {
    let dir = root()
        .join("target/cedargate-cli-tests")
        .join(format!("pingone-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PERMISSION: &str = "5d8b1f3a-7c2e-4a6d-9b0f-3e4c8a1d2f67=statements:read";
const MEME_ADMINS: &str = "5f3b8d1e-9a4c-4f2b-a6e7-3c1d9b5f8e20=Meme Game Admins";

fn init_banking(out: &Path) -> Output {
    cedargate(&[
        "init",
        "--pingone-api-service",
        &data("banking.json"),
        "--namespace",
        "Banking",
        "--out",
        out.to_str().unwrap(),
        "--name",
        PERMISSION,
    ])
}

#[test]
fn each_fixture_makes_a_folder_check_accepts() {
    let bank = scratch("bank");
    let out = init_banking(&bank);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("4 operations of the API service \"Banking API-Advanced\""),
        "{said}"
    );
    assert!(said.contains("OPTIONS is not routed"), "{said}");
    assert!(
        said.contains("audience https://api.example.com/advbanking"),
        "{said}"
    );
    assert!(bank.join(pingone::SIDECAR_FILE).exists());

    let meme = scratch("meme");
    let out = cedargate(&[
        "init",
        "--pingone-api-service",
        &data("meme-game.json"),
        "--namespace",
        "MemeGame",
        "--out",
        meme.to_str().unwrap(),
        "--name",
        MEME_ADMINS,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("\"Submit an answer\" has no access control rule: any verified token for the API may call it"),
        "{}",
        text(&out.stdout)
    );
    let policies = std::fs::read_to_string(meme.join("policies.cedar")).unwrap();
    assert!(
        policies
            .contains("action in [MemeGame::Action::\"get /api/v1/users/{wildcard1}/answers\"]")
    );
    assert!(
        policies.contains("when { principal in [MemeGame::UserGroup::\"Meme Game Admins\"] };")
    );

    for dir in [&bank, &meme] {
        let out = cedargate(&["check", "--dir", dir.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(
            !text(&out.stdout).contains("error"),
            "{}",
            text(&out.stdout)
        );
    }
}

#[test]
fn the_banking_folder_decides_its_table() {
    let service = pingone::parse(
        "banking.json",
        &std::fs::read_to_string(root().join(data("banking.json"))).unwrap(),
        &[PERMISSION.to_owned()],
    )
    .unwrap();
    let generated = pingone::generate(&service, "Banking", "Banking").unwrap();
    let bundle = Bundle::load(&generated.source).unwrap();
    let context = ContextConfig {
        time: true,
        token: vec![TokenValue::Acr, TokenValue::AuthTime],
        ..ContextConfig::default()
    };
    let gate = Gate::enforcing(bundle, &support::trust_config(), &context).unwrap();

    let mut table: toml::Value = toml::from_str(
        &std::fs::read_to_string(root().join(data("banking_decisions.toml"))).unwrap(),
    )
    .unwrap();
    // `step_up` is this file's own column.
    let mut step_ups = Vec::new();
    for case in table["case"].as_array_mut().unwrap() {
        step_ups.push(case.as_table_mut().unwrap().remove("step_up"));
    }
    let table: DecisionTable = table.try_into().unwrap();
    let issuers = gate.trust().issuers();
    let cases = diff_decisions::table_cases(&table, &issuers).unwrap();
    assert_eq!(cases.len(), 16);
    let values = RequestValues::at(NOW);
    for ((case, row), step_up) in cases.iter().zip(&table.case).zip(&step_ups) {
        let verdict = diff_decisions::decide(&gate, case, &values);
        assert_eq!(
            Some(verdict.outcome),
            row.expect,
            "{}: {verdict:?}",
            case.name
        );
        if let Some(policies) = &row.policies {
            assert_eq!(&verdict.policies, policies, "{}", case.name);
        }
        // Step-up, through the gate's own decision.
        if let Some(caller) = &case.caller
            && verdict.outcome == CaseOutcome::Deny
        {
            let principal = gate
                .trust()
                .hypothetical_principal_from_claims(&caller.issuer, caller.kind, &caller.claims)
                .unwrap();
            let (_, decision) = gate
                .what_if_request(&principal, &case.method, &case.path, &values)
                .unwrap();
            let want = step_up.as_ref().map(|s| StepUp {
                acr_values: s["acr_values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect(),
                max_age: s
                    .get("max_age")
                    .map(|m| u32::try_from(m.as_integer().unwrap()).unwrap()),
            });
            assert_eq!(decision.step_up, want, "{}", case.name);
        }
    }
}

/// What `init` reads, compared field by field: the service and each operation as PingOne
/// holds them (ids, names, base URLs, paths, methods, access control).
fn comparable(file: &str, text: &str, names: &[String]) -> Value {
    let service = pingone::parse(file, text, names).unwrap();
    json!({
        "service": service.raw,
        "operations": service.operations.iter().map(|o| json!({
            "raw": o.raw,
            "groups": o.groups.iter().map(|g| &g.name).collect::<Vec<_>>(),
            "scopes": o.scopes.as_ref().map(|(_, s)| s.iter().map(|s| &s.name).collect::<Vec<_>>()),
            "permission": o.permission.as_ref().map(|p| &p.name),
            "acrs": o.authentication.as_ref().map(|a| a.acrs.clone()),
        })).collect::<Vec<_>>(),
        "resource": service.resource,
    })
}

#[test]
fn init_then_export_gives_the_api_service_back() {
    let bank = scratch("round-trip");
    assert!(init_banking(&bank).status.success());
    let exported = bank.with_extension("json");
    let out = cedargate(&[
        "export",
        "--pingone-api-service",
        "--dir",
        bank.to_str().unwrap(),
        "--out",
        exported.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let original = std::fs::read_to_string(root().join(data("banking.json"))).unwrap();
    let back = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(
        comparable("original", &original, &[PERMISSION.to_owned()]),
        // The export embeds the names it used, as ?expand= would: it reads without --name.
        comparable("exported", &back, &[]),
    );
    // And init of the export writes the same folder again.
    let again = scratch("round-trip-again");
    let out = cedargate(&[
        "init",
        "--pingone-api-service",
        exported.to_str().unwrap(),
        "--namespace",
        "Banking",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (a, b) = (folder::read(&bank).unwrap(), folder::read(&again).unwrap());
    assert_eq!(a, b);

    // A folder edited since init is not exported.
    let policies = bank.join("policies.cedar");
    let edited = std::fs::read_to_string(&policies)
        .unwrap()
        .replace("\"Accountants\"", "\"Everyone\"");
    std::fs::write(&policies, edited).unwrap();
    let out = cedargate(&[
        "export",
        "--pingone-api-service",
        "--dir",
        bank.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("policies.cedar: changed since init (first at line"),
        "{err}"
    );
    // A folder init did not write from an API service has nothing to give back.
    let out = cedargate(&[
        "export",
        "--pingone-api-service",
        "--dir",
        "policies/petstore",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("only a folder `cedargate init --pingone-api-service` wrote"),
        "{}",
        text(&out.stderr)
    );
}

/// The banking fixture with one change made by `edit`.
fn banking_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(data("banking.json"))).unwrap())
            .unwrap();
    edit(&mut doc);
    doc.to_string()
}

fn op(doc: &mut Value, i: usize) -> &mut Value {
    &mut doc["operations"]["_embedded"]["operations"][i]
}

#[test]
fn bad_input_is_refused_with_nothing_written() {
    let cases: Vec<(String, &str)> = vec![
        (
            banking_with(|d| {
                op(d, 0)["accessControl"]["custom"] = json!({ "enabled": true });
            }),
            "operations[0] (\"AccountsPayable\").accessControl.custom.enabled: the operation is decided by a custom policy, which has no cedar counterpart",
        ),
        (
            banking_with(|d| {
                d["apiService"]["accessControl"] = json!({ "custom": { "enabled": true } });
            }),
            "apiService.accessControl.custom.enabled: the API service decides with custom policies",
        ),
        (
            banking_with(|d| {
                op(d, 1)["paths"][0]["pattern"] = json!("/accounts/acc-*");
            }),
            "operations[1] (\"Read account\").paths[0].pattern: \"/accounts/acc-*\": a wildcard inside the segment \"acc-*\" has no route template counterpart",
        ),
        (
            banking_with(|d| {
                op(d, 2)["paths"][1]["pattern"] = json!("/accounts/**/statements");
            }),
            "** matches the rest of the path and must end the pattern",
        ),
        (
            banking_with(|d| {
                op(d, 0)["_embedded"]["scopes"] = json!([]);
            }),
            "accessControl.scope.scopes[0]: scope 7b0e4d52-9f3a-4c1b-8e2d-6a5f1c3e9d70 has no name in the file; read the operation with ?expand=scopes, or pass --name 7b0e4d52-9f3a-4c1b-8e2d-6a5f1c3e9d70=<the name tokens carry>",
        ),
        (
            banking_with(|d| {
                op(d, 3)["accessControl"]["authentication"] = json!({ "policy": { "id": "x" } });
            }),
            "accessControl.authentication.policy: unknown member of the authentication rule: refused rather than dropped",
        ),
        (
            banking_with(|d| {
                op(d, 3)["accessControl"]["risk"] = json!({ "level": "HIGH" });
            }),
            "accessControl.risk: unknown access control rule: cedargate cannot express it",
        ),
        (
            banking_with(|d| {
                op(d, 1)["paths"][0] = json!({ "type": "EXACT", "pattern": "/accountsPayable" });
                op(d, 1)["methods"] = json!(["POST"]);
            }),
            "operations \"AccountsPayable\" and \"Read account\" both match \"post /advbanking/v1/accountsPayable\"",
        ),
        (
            banking_with(|d| {
                d["apiService"]["baseUrls"] =
                    json!(["https://api.example.com/v1", "https://api.example.com/v2"]);
            }),
            "apiService.baseUrls: the base URLs have different paths (/v1, /v2)",
        ),
        (
            banking_with(|d| {
                op(d, 0)["methods"] = json!([]);
            }),
            "operations[0] (\"AccountsPayable\").methods: not a list of methods (null for every method)",
        ),
        (
            "{ \"apiService\": {} }".into(),
            "apiService.name: missing, or not a string",
        ),
        (
            "[]".into(),
            "expected an object with apiService and operations",
        ),
    ];
    let dir = scratch("bad");
    let input = dir.with_extension("input.json");
    for (document, want) in cases {
        std::fs::write(&input, &document).unwrap();
        let out = cedargate(&[
            "init",
            "--pingone-api-service",
            input.to_str().unwrap(),
            "--namespace",
            "Banking",
            "--out",
            dir.to_str().unwrap(),
            "--name",
            PERMISSION,
        ]);
        assert_eq!(out.status.code(), Some(2), "{want}");
        let err = text(&out.stderr);
        assert!(err.contains(want), "wanted {want}\ngot {err}");
        let message = err.trim_start_matches("cedargate: ");
        let after_file = message.split_once(": ").map_or(message, |(_, rest)| rest);
        assert!(
            after_file.starts_with(|c: char| !c.is_uppercase())
                || after_file.starts_with("operations \""),
            "{err}"
        );
        assert!(!dir.exists(), "nothing is written: {want}");
    }
    // An existing folder is not replaced without --force, and keeps its files.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(pingone::SIDECAR_FILE), "mine").unwrap();
    let out = init_banking(&dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("exists; pass --force"));
    assert_eq!(
        std::fs::read_to_string(dir.join(pingone::SIDECAR_FILE)).unwrap(),
        "mine"
    );
    assert!(!dir.join("policies.cedar").exists());
}
