//! The `cedargate` tool on the PetStore document (which must regenerate the bundled example
//! exactly) and on a larger API written for these tests (`tests/data/clinic*.yaml`), through
//! the library and through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{cedargate, root};

use cedargate::{Bundle, BundleSource};
use cedargate_cli::openapi::{Api, Operation};
use cedargate_cli::{avp, check, diff, folder, generate};
use cedargate_test_support::{self as support, API_AUDIENCE, CLIENT_ID, ISSUER_A, ISSUER_B, NOW};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Output;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn petstore_dir() -> PathBuf {
    root().join("policies/petstore")
}

/// A fresh, empty directory under target/.
fn scratch(name: &str) -> PathBuf {
    let dir = root()
        .join("target/cedargate-cli-tests")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const PETSTORE_GROUPS: [&str; 2] = ["AVP_Admin=all", "AVP_User=all,-post /pets"];

fn petstore_options(api: &Api) -> generate::InitOptions {
    generate::InitOptions {
        namespace: "PetStore".into(),
        resource_id: "PetStore".into(),
        groups: PETSTORE_GROUPS
            .iter()
            .map(|g| generate::GroupRule::parse(g, api).unwrap())
            .collect(),
        source_name: "openapi.yaml".into(),
    }
}

fn clinic_folder(name: &str) -> PathBuf {
    let dir = scratch(name);
    let out = cedargate(&[
        "init",
        "--openapi",
        data("clinic.openapi.yaml").to_str().unwrap(),
        "--namespace",
        "Clinic",
        "--out",
        dir.to_str().unwrap(),
        "--group",
        "Clinic_Admin=all",
        "--group",
        "Clinic_Staff=all,-delete /patients/{patientId},-delete /practitioners/{practitionerId}",
        "--group",
        "Auditors=get /patients,get /invoices,get /reports/{year}/{month}",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    dir
}

/// The access-token reference bundle's `init` options (docs/src/howto/services.md).
fn access_options(api: &Api) -> generate::InitOptions {
    generate::InitOptions {
        namespace: "PetStore".into(),
        resource_id: "PetStore".into(),
        groups: PETSTORE_GROUPS
            .iter()
            .map(|g| generate::GroupRule::parse(g, api).unwrap())
            .chain([generate::GroupRule::parse_client(
                "inventory=get /pets,get /pets/{petId}",
                api,
            )
            .unwrap()])
            .collect(),
        source_name: "openapi.yaml".into(),
    }
}

#[test]
fn the_access_document_regenerates_its_folder_exactly() {
    let dir = root().join("policies/petstore-access");
    let api = Api::parse(
        "openapi.yaml",
        &std::fs::read_to_string(dir.join("openapi.yaml")).unwrap(),
    )
    .unwrap();
    assert!(api.has_service_callers());
    let generated = generate::generate(&api, &access_options(&api)).unwrap();
    let bundled = folder::read(&dir).unwrap();
    assert_eq!(generated.schema, bundled.schema, "schema.cedarschema");
    assert_eq!(generated.policies, bundled.policies, "policies.cedar");
    assert_eq!(generated.routes, bundled.routes, "routes.json");

    // The same through the binary, into a fresh folder.
    let out_dir = scratch("access-init");
    let out = cedargate(&[
        "init",
        "--openapi",
        "policies/petstore-access/openapi.yaml",
        "--namespace",
        "PetStore",
        "--out",
        out_dir.to_str().unwrap(),
        "--group",
        "AVP_Admin=all",
        "--group",
        "AVP_User=all,-post /pets",
        "--client",
        "inventory=get /pets,get /pets/{petId}",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(folder::read(&out_dir).unwrap(), bundled);

    // A service rule needs a document in which services call the API.
    let out = cedargate(&[
        "init",
        "--openapi",
        "policies/petstore/openapi.yaml",
        "--namespace",
        "PetStore",
        "--out",
        scratch("access-init-no-clients").to_str().unwrap(),
        "--client",
        "inventory=get /pets",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "--client inventory: the document has no oauth2 scheme with a clientCredentials flow"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn scope_requirements_name_the_scopes_a_client_should_ask_for() {
    let api = Api::parse(
        "s.yaml",
        r#"
openapi: 3.1.0
info: { title: T, version: "1" }
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials: { tokenUrl: "https://idp.test/token", scopes: { a: "", b: "" } }
paths:
  /both:
    get: { security: [{ oauth: [b, a] }] }
  /either:
    get: { security: [{ oauth: [b] }, { oauth: [a] }] }
"#,
    )
    .unwrap();
    let text = |action: &str| {
        generate::requirements(&api, "T")
            .into_iter()
            .find(|r| r.action == action)
            .unwrap()
            .text
    };
    // One set: the forbid says which scopes lift it (RFC 6750's insufficient_scope).
    assert!(
        text("get /both")
            .contains("@id(\"requires-scopes-get-both\")\n@required_scopes(\"a b\")\nforbid ("),
        "{}",
        text("get /both")
    );
    // Alternatives: no one list of scopes is what the operation needs.
    assert!(
        !text("get /either").contains("@required_scopes"),
        "{}",
        text("get /either")
    );
    // The committed access folder is what the generator writes (compared exactly elsewhere).
    let access = folder::read(&root().join("policies/petstore-access")).unwrap();
    assert!(
        access
            .policies
            .contains("@id(\"requires-scopes-post-pets\")\n@required_scopes(\"pets:write\")\n"),
        "{}",
        access.policies
    );
}

#[test]
fn check_notes_actions_without_any_requirement() {
    let access = folder::read(&root().join("policies/petstore-access")).unwrap();
    // Only the public health check, which the document opens to anyone.
    assert_eq!(check::check(&access).no_requirement, ["get /health"]);
    // Without the forbid on `get /`, a token with no scope could call it.
    let start = access.policies.find("// get / needs").unwrap();
    let end = start + access.policies[start..].find("};\n").unwrap() + 3;
    let open = BundleSource {
        policies: format!("{}{}", &access.policies[..start], &access.policies[end..]),
        ..access.clone()
    };
    assert_eq!(check::check(&open).no_requirement, ["get /", "get /health"]);
    // The ID-token PetStore has groups only: every action, noted, not warned about.
    let petstore = check::check(&folder::read(&petstore_dir()).unwrap());
    assert_eq!(petstore.no_requirement.len(), 4);
    assert!(petstore.warnings.iter().all(|w| !w.contains("requirement")));
}

#[test]
fn diff_reports_changed_scope_and_permission_requirements() {
    let dir = root().join("policies/petstore-access");
    let text = std::fs::read_to_string(dir.join("openapi.yaml")).unwrap();
    let folder = folder::read(&dir).unwrap();
    let changes = |doc: &str| {
        let api = Api::parse("openapi.yaml", doc).unwrap();
        cedargate_cli::diff::diff(&api, &folder)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(changes(&text), Vec::<String>::new());
    let stricter = text.replace(
        r#"- pingone: ["pets:write"]"#,
        r#"- pingone: ["pets:admin"]"#,
    );
    assert_eq!(
        changes(&stricter),
        [
            "~ post /pets: the document requires the scope pets:admin; requires-scopes-post-pets says otherwise"
        ]
    );
    let no_permission = text.replace(r#"      x-cedargate-permissions: ["pets:create"]"#, "");
    assert_eq!(
        changes(&no_permission),
        ["~ post /pets: requires-permissions-post-pets requires what the document no longer does"]
    );
    let open_reads = text.replace("security:\n  - pingone: [\"pets:read\"]\n", "");
    assert_eq!(
        changes(&open_reads),
        [
            "~ get /: requires-scopes-get requires what the document no longer does",
            "~ get /pets: requires-scopes-get-pets requires what the document no longer does",
            "~ get /pets/{petId}: requires-scopes-get-pets-petid requires what the document no longer does",
        ]
    );
    // Through the binary: no change, exit status 0.
    let out = cedargate(&[
        "diff",
        "--openapi",
        "policies/petstore-access/openapi.yaml",
        "--dir",
        "policies/petstore-access",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn the_petstore_document_regenerates_the_bundled_example_exactly() {
    let path = petstore_dir().join("openapi.yaml");
    let api = Api::parse("openapi.yaml", &std::fs::read_to_string(&path).unwrap()).unwrap();
    let generated = generate::generate(&api, &petstore_options(&api)).unwrap();
    let bundled = folder::read(&petstore_dir()).unwrap();
    assert_eq!(generated.schema, bundled.schema, "schema.cedarschema");
    assert_eq!(generated.policies, bundled.policies, "policies.cedar");
    assert_eq!(generated.routes, bundled.routes, "routes.json");
    assert_eq!(
        api.skipped.len(),
        2,
        "the two CORS options operations: {:?}",
        api.skipped
    );

    // The same through the binary, into a fresh folder.
    let dir = scratch("petstore-init");
    let out = cedargate(&[
        "init",
        "--openapi",
        "policies/petstore/openapi.yaml",
        "--namespace",
        "PetStore",
        "--out",
        dir.to_str().unwrap(),
        "--group",
        PETSTORE_GROUPS[0],
        "--group",
        PETSTORE_GROUPS[1],
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("4 actions from policies/petstore/openapi.yaml"),
        "{}",
        stdout(&out)
    );
    assert_eq!(folder::read(&dir).unwrap(), bundled);
    // It does not overwrite without --force.
    let again = cedargate(&[
        "init",
        "--openapi",
        "policies/petstore/openapi.yaml",
        "--namespace",
        "PetStore",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("exists; pass --force"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn a_larger_api_with_any_methods_and_greedy_paths() {
    let api = Api::parse(
        "clinic.openapi.yaml",
        &std::fs::read_to_string(data("clinic.openapi.yaml")).unwrap(),
    )
    .unwrap();
    assert!(api.operations.len() >= 30);
    assert_eq!(api.operations.len(), 48);
    let any: Vec<String> = api
        .operations
        .iter()
        .filter(|o| o.from_any)
        .map(Operation::action)
        .collect();
    assert_eq!(any.len(), 10, "{any:?}");
    assert!(any.contains(&"patch /files/{proxy+}".to_owned()));
    let dir = clinic_folder("clinic-init");
    let bundle = Bundle::load(&folder::read(&dir).unwrap()).unwrap();
    assert_eq!(bundle.routes().len(), 48);

    // Requests resolve to the generated actions, with their parameters in the context.
    let m = bundle.resolve("DELETE", "/files/scans/2026/x.pdf").unwrap();
    assert_eq!(m.action, "delete /files/{proxy+}");
    assert_eq!(m.path_parameters["proxy"], "scans/2026/x.pdf");
    let m = bundle.resolve("GET", "/patients/search?q=ann").unwrap();
    assert_eq!(m.action, "get /patients/search");
    let m = bundle.resolve("GET", "/reports/2026/11").unwrap();
    assert_eq!(m.action, "get /reports/{year}/{month}");
    assert_eq!(m.path_parameters["month"], "11");
    assert!(bundle.resolve("OPTIONS", "/appointments").is_err());
    let head = bundle.resolve("HEAD", "/health").unwrap();
    assert_eq!(head.action, "head /health");

    // The policies do what the groups said.
    let policies = std::fs::read_to_string(dir.join("policies.cedar")).unwrap();
    assert!(policies.contains("@id(\"clinic-staff-all-but-delete-patients-patientid-and-delete-practitioners-practitionerid\")"));
    assert!(policies.contains("action in [Clinic::Action::\"get /patients\", Clinic::Action::\"get /invoices\", Clinic::Action::\"get /reports/{year}/{month}\"]"));
    let report = check::check(&folder::read(&dir).unwrap());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert!(
        report.never_allowed.is_empty(),
        "{:?}",
        report.never_allowed
    );
}

#[test]
fn check_finds_what_cannot_be_right() {
    let bundled = folder::read(&petstore_dir()).unwrap();
    let clean = check::check(&bundled);
    assert!(
        clean.errors.is_empty() && clean.warnings.is_empty(),
        "{clean:?}"
    );
    assert!(
        clean
            .summary
            .unwrap()
            .contains("4 actions, 4 routes, 2 policies")
    );

    // Without the admin policy nobody may ever post a pet.
    let only_users = BundleSource {
        policies: bundled
            .policies
            .split("// Members of AVP_User")
            .nth(1)
            .map(|p| format!("// Members of AVP_User{p}"))
            .unwrap(),
        ..bundled.clone()
    };
    let report = check::check(&only_users);
    assert_eq!(report.never_allowed, ["post /pets"]);
    assert!(report.errors.is_empty());

    // A forbid that always holds makes its action unreachable too; a conditional one does not.
    let forbidding = BundleSource {
        policies: format!(
            "{}\n@id(\"no-reads\")\nforbid (principal, action == PetStore::Action::\"get /\", resource);\n\
             @id(\"no-scoped\")\nforbid (principal, action == PetStore::Action::\"get /pets\", resource)\n\
             when {{ principal has scope && principal.scope.contains(\"read-only\") }};\n",
            bundled.policies
        ),
        ..bundled.clone()
    };
    assert_eq!(check::check(&forbidding).never_allowed, ["get /"]);

    // An action without a route is reported; routes to undeclared actions are errors, all of
    // them, with their lines.
    let unrouted = BundleSource {
        routes: bundled.routes.replace("    \"get /\",\n", ""),
        ..bundled.clone()
    };
    let report = check::check(&unrouted);
    assert_eq!(report.unrouted, ["get /"]);
    let undeclared = BundleSource {
        routes: bundled
            .routes
            .replace("\"get /\"", "\"get /home\"")
            .replace("\"post /pets\"", "\"put /pets\""),
        ..bundled.clone()
    };
    let report = check::check(&undeclared);
    assert_eq!(report.errors.len(), 2, "{:?}", report.errors);
    assert!(
        report.errors[0].starts_with("routes.json:5: route \"get /home\""),
        "{:?}",
        report.errors
    );
    assert!(
        report.errors[1].starts_with("routes.json:7: route \"put /pets\""),
        "{:?}",
        report.errors
    );

    // A policy naming an action the schema does not have: the loader's error, with its line.
    let typo = BundleSource {
        policies: bundled.policies.replace("\"post /pets\"", "\"post /pet\""),
        ..bundled
    };
    let report = check::check(&typo);
    assert_eq!(report.errors.len(), 1);
    assert!(
        report.errors[0].contains("avp-user-all-but-post-pets"),
        "{:?}",
        report.errors
    );

    // Through the binary: exit status and output.
    let out = cedargate(&["check", "--dir", "policies/petstore"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("bundle "), "{}", stdout(&out));
    let dir = scratch("check-unrouted");
    folder::write(&dir, &unrouted, false).unwrap();
    let out = cedargate(&["check", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("warning: action \"get /\" has no route"));
    let strict = cedargate(&["check", "--dir", dir.to_str().unwrap(), "--deny-warnings"]);
    assert_eq!(strict.status.code(), Some(1));
    let missing = cedargate(&["check", "--dir", "no/such/folder"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no/such/folder/schema.cedarschema: cannot read"));
}

#[test]
fn diff_reports_what_changed_in_the_api() {
    let dir = clinic_folder("clinic-diff");
    let source = folder::read(&dir).unwrap();
    let same = Api::parse(
        "clinic.openapi.yaml",
        &std::fs::read_to_string(data("clinic.openapi.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(diff::diff(&same, &source).unwrap(), []);
    let v2 = Api::parse(
        "clinic-v2.openapi.yaml",
        &std::fs::read_to_string(data("clinic-v2.openapi.yaml")).unwrap(),
    )
    .unwrap();
    let lines: Vec<String> = diff::diff(&v2, &source)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "- delete /practitioners/{practitionerId}",
            "- delete /rooms/{roomId}",
            "+ delete /rooms/{roomNumber}",
            "+ get /invoices/{invoiceId}/lines",
            "~ get /practitioners: query parameters +sort -specialty",
            "- get /rooms/{roomId}",
            "+ get /rooms/{roomNumber}",
            "+ post /invoices/{invoiceId}/lines",
            "- put /rooms/{roomId}",
            "+ put /rooms/{roomNumber}",
        ]
    );
    let out = cedargate(&[
        "diff",
        "--openapi",
        data("clinic-v2.openapi.yaml").to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("10 changes"), "{}", stdout(&out));
    let out = cedargate(&[
        "diff",
        "--openapi",
        "policies/petstore/openapi.yaml",
        "--dir",
        "policies/petstore",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn openapi_errors_point_at_file_line_and_field() {
    let dir = scratch("bad-openapi");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "openapi: 3.0.3\ninfo: {title: Bad, version: '1'}\npaths:\n  /pets/{petId}:\n    get:\n      parameters:\n        - name: petId\n          in: path\n          required: true\n        - name: q\n          in: body\n",
    )
    .unwrap();
    let out = cedargate(&[
        "init",
        "--openapi",
        bad.to_str().unwrap(),
        "--namespace",
        "P",
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let expected = format!(
        "cedargate: {}:11:15: paths./pets/{{petId}}.get.parameters[1].in: \"body\" is not a parameter location (path, query, header, cookie)\n",
        bad.display()
    );
    assert_eq!(stderr(&out), expected);
    assert!(!dir.join("out").exists(), "nothing is written on an error");

    let out = cedargate(&[
        "init",
        "--openapi",
        "policies/petstore/openapi.yaml",
        "--namespace",
        "PetStore",
        "--out",
        dir.join("out").to_str().unwrap(),
        "--group",
        "AVP_User=all,-post /petz",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--group AVP_User: the API has no operation \"post /petz\""),
        "{}",
        stderr(&out)
    );
}

fn jwks_file(dir: &Path) -> PathBuf {
    let path = dir.join("jwks.json");
    std::fs::write(&path, support::issuer_a_jwks()).unwrap();
    path
}

fn token_file(
    dir: &Path,
    name: &str,
    claims: serde_json::Value,
    key: &str,
    typ: &str,
) -> (PathBuf, String) {
    let token = support::mint(&claims, key, typ);
    let path = dir.join(name);
    std::fs::write(&path, &token).unwrap();
    (path, token)
}

/// `cedargate explain` over the PetStore bundle with the keys in `jwks` and the token in the
/// file `token`, at `at`, with the options `extra`, for `method` and `path`.
fn explain(
    jwks: &Path,
    token: &Path,
    at: &str,
    extra: &[&str],
    method: &str,
    path: &str,
) -> Output {
    let token = format!("@{}", token.display());
    let mut args = vec![
        "explain",
        "--dir",
        "policies/petstore",
        "--jwks",
        jwks.to_str().unwrap(),
        "--token",
        &token,
        "--at",
        at,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[method, path]);
    cedargate(&args)
}

#[test]
fn explain_decides_offline_and_never_prints_the_token() {
    let dir = scratch("explain");
    let jwks = jwks_file(&dir);
    let at = NOW.0.to_string();
    let (alice, alice_token) = token_file(
        &dir,
        "alice.jwt",
        support::id_claims("alice", &["AVP_Admin"], NOW),
        "a-rsa-1",
        "JWT",
    );
    let (bob, bob_token) = token_file(
        &dir,
        "bob.jwt",
        support::id_claims("bob", &["AVP_User"], NOW),
        "a-ec-1",
        "JWT",
    );
    let run = |token: &Path, extra: &[&str], method: &str, path: &str| {
        explain(&jwks, token, &at, extra, method, path)
    };
    let audience = ["--audience", CLIENT_ID];

    let out = run(&alice, &audience, "POST", "/pets");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "token      RS256 id token from {ISSUER_A}, verified"
        )),
        "{text}"
    );
    assert!(
        text.contains("principal  PetStore::User::\"alice\""),
        "{text}"
    );
    assert!(text.contains("groups     AVP_Admin"), "{text}");
    assert!(
        text.contains("request    POST /pets -> action \"post /pets\""),
        "{text}"
    );
    assert!(
        text.contains("decision   ALLOW: permitted by avp-admin-all"),
        "{text}"
    );

    let out = run(&bob, &audience, "POST", "/pets");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("decision   DENY: no policy permits it (Cedar's default deny)"),
        "{}",
        stdout(&out)
    );
    let out = run(&bob, &audience, "GET", "/pets/7");
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("path       petId = \"7\""), "{text}");
    assert!(
        text.contains("permitted by avp-user-all-but-post-pets"),
        "{text}"
    );
    // Only request values the command has: the time. A step-up requirement is named.
    let (carol, _) = token_file(
        &dir,
        "carol.jwt",
        {
            let mut claims = support::id_claims("carol", &["AVP_Admin"], NOW);
            claims["acr"] = json!("Single_Factor");
            claims["auth_time"] = json!(NOW.0 - 30);
            claims
        },
        "a-rsa-1",
        "JWT",
    );
    let token = format!("@{}", carol.display());
    let out = cedargate(&[
        "explain",
        "--dir",
        "policies/petstore-context",
        "--jwks",
        jwks.to_str().unwrap(),
        "--token",
        &token,
        "--at",
        &at,
        "--audience",
        CLIENT_ID,
        "DELETE",
        "/pets/7",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains(
            "step-up    a new sign-in with acr_values Multi_Factor, max_age 600 would be allowed"
        ),
        "{text}"
    );
    let out = run(&bob, &audience, "GET", "/pets?type=dog&page=2");
    let text = stdout(&out);
    assert!(
        text.contains("query      page = \"2\"\nquery      type = \"dog\""),
        "{text}"
    );

    // Refusals, each with its reason.
    let out = run(&bob, &audience, "GET", "/admin");
    assert!(stdout(&out).contains("DENY (404)"), "{}", stdout(&out));
    let out = run(&bob, &audience, "GET", "/pets%2F7");
    assert!(stdout(&out).contains("DENY (400)"), "{}", stdout(&out));
    let out = run(&bob, &["--audience", "someone-else"], "GET", "/pets");
    assert!(
        stdout(&out).contains("DENY (401): token refused"),
        "{}",
        stdout(&out)
    );
    let later = (NOW.0 + 86_400).to_string();
    let token_arg = format!("@{}", alice.display());
    let out = cedargate(&[
        "explain",
        "--dir",
        "policies/petstore",
        "--jwks",
        jwks.to_str().unwrap(),
        "--token",
        &token_arg,
        "--at",
        &later,
        "--audience",
        CLIENT_ID,
        "GET",
        "/pets",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("DENY (401): token refused: token expired"),
        "{}",
        stdout(&out)
    );

    // A trust configuration file: the access token needs its audience and type.
    let trust = dir.join("trust.json");
    std::fs::write(&trust, json!({ "issuers": [
        { "issuer": ISSUER_A, "token": "access", "audiences": [API_AUDIENCE], "token_type": "at+jwt" }
    ]}).to_string()).unwrap();
    let (access, access_token) = token_file(
        &dir,
        "access.jwt",
        support::access_claims("alice", NOW),
        "a-rsa-1",
        "at+jwt",
    );
    let out = run(
        &access,
        &["--trust", trust.to_str().unwrap()],
        "GET",
        "/pets",
    );
    let text = stdout(&out);
    assert!(text.contains("access token"), "{text}{}", stderr(&out));
    let out = run(
        &alice,
        &["--trust", trust.to_str().unwrap()],
        "GET",
        "/pets",
    );
    assert!(
        stdout(&out).contains("DENY (401)"),
        "an ID token where an access token is configured: {}",
        stdout(&out)
    );

    // No output ever carries a token or its signature.
    for token in [&alice_token, &bob_token, &access_token] {
        for out in [
            run(&alice, &audience, "GET", "/pets"),
            run(
                &access,
                &["--trust", trust.to_str().unwrap()],
                "GET",
                "/pets",
            ),
        ] {
            let all = stdout(&out) + &stderr(&out);
            let signature = token.rsplit('.').next().unwrap();
            assert!(!all.contains(token.as_str()) && !all.contains(signature));
        }
    }
}

/// With a trust configuration of several issuers, `--jwks` holds one issuer's keys
/// (`--issuer`): they verify that issuer's tokens only, never a token that names another
/// trusted issuer although it is signed with them.
#[test]
fn explain_verifies_with_the_keys_of_the_issuer_named_only() {
    let dir = scratch("explain-issuers");
    let jwks = jwks_file(&dir);
    let at = NOW.0.to_string();
    let trust = dir.join("trust.json");
    std::fs::write(
        &trust,
        json!({ "issuers": [
            { "issuer": ISSUER_A, "token": "id", "audiences": [CLIENT_ID] },
            { "issuer": ISSUER_B, "token": "id", "audiences": [CLIENT_ID],
              "entity_id_prefix": "b|", "group_id_prefix": "b|" }
        ]})
        .to_string(),
    )
    .unwrap();
    let (alice, _) = token_file(
        &dir,
        "alice.jwt",
        support::id_claims("alice", &["AVP_Admin"], NOW),
        "a-rsa-1",
        "JWT",
    );
    let mut claims = support::id_claims("mallory", &["AVP_Admin"], NOW);
    claims["iss"] = json!(ISSUER_B);
    let (mallory, _) = token_file(&dir, "mallory.jwt", claims, "a-rsa-1", "JWT");
    let run = |token: &Path, issuer: Option<&str>| {
        let mut extra = vec!["--trust", trust.to_str().unwrap()];
        if let Some(issuer) = issuer {
            extra.extend_from_slice(&["--issuer", issuer]);
        }
        explain(&jwks, token, &at, &extra, "GET", "/pets")
    };
    // Whose keys they are must be said.
    let out = run(&alice, None);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("--issuer"), "{}", stderr(&out));
    let out = run(&alice, Some("https://unknown.test"));
    assert!(
        stderr(&out).contains("is not an issuer"),
        "{}",
        stderr(&out)
    );
    // Issuer A's keys verify issuer A's token.
    let out = run(&alice, Some(ISSUER_A));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // A token naming issuer B, signed with issuer A's key, is not verified with A's keys.
    let out = run(&mallory, Some(ISSUER_A));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("DENY (401)"), "{text}");
    assert!(!text.contains("mallory"), "{text}");
}

#[test]
fn avp_policy_stores_round_trip() {
    let bundled = Bundle::load(&folder::read(&petstore_dir()).unwrap()).unwrap();
    let store = avp::export(&bundled).unwrap();
    let policies = store["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    assert_eq!(policies[0]["policyId"], "avp-admin-all");
    let statement = policies[1]["definition"]["static"]["statement"]
        .as_str()
        .unwrap();
    assert!(
        statement.starts_with("permit(") || statement.starts_with("permit ("),
        "{statement}"
    );
    assert!(!statement.contains("@id"), "{statement}");
    assert_eq!(
        policies[1]["definition"]["static"]["description"],
        "Members of AVP_User may call every operation but post /pets."
    );
    let schema: serde_json::Value =
        serde_json::from_str(store["schema"]["cedarJson"].as_str().unwrap()).unwrap();
    assert!(schema["PetStore"]["actions"]["get /pets/{petId}"].is_object());

    // Back to a folder: the same bundle, to the content version.
    let imported = avp::import(
        "store.json",
        &store.to_string(),
        &avp::ImportOptions::default(),
    )
    .unwrap();
    let again = Bundle::load(&imported.source).unwrap();
    assert_eq!(again.version(), bundled.version());
    assert!(imported.notes.is_empty(), "{:?}", imported.notes);

    // The access-token bundle's public route comes back public.
    let access =
        Bundle::load(&folder::read(&root().join("policies/petstore-access")).unwrap()).unwrap();
    let imported = avp::import(
        "store.json",
        &avp::export(&access).unwrap().to_string(),
        &avp::ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(
        Bundle::load(&imported.source).unwrap().version(),
        access.version()
    );

    // The clinic too, through the binary.
    let dir = clinic_folder("clinic-avp");
    let file = dir.join("store.json");
    let out = cedargate(&[
        "avp-export",
        "--dir",
        dir.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let back = dir.join("back");
    let out = cedargate(&[
        "avp-import",
        "--store",
        file.to_str().unwrap(),
        "--out",
        back.to_str().unwrap(),
        "--resource-id",
        "Clinic",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let original = Bundle::load(&folder::read(&dir).unwrap()).unwrap();
    let imported = Bundle::load(&folder::read(&back).unwrap()).unwrap();
    assert_eq!(original.version(), imported.version());

    // Bad stores are refused with the file, line and field that is wrong.
    let import = |store: &serde_json::Value| {
        let text = serde_json::to_string_pretty(store).unwrap();
        avp::import("store.json", &text, &avp::ImportOptions::default())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let mut bad = store.clone();
    bad["policies"][0]["definition"] = json!({ "templateLinked": { "policyTemplateId": "t" } });
    assert_eq!(
        import(&bad),
        "store.json:13:27: policies[0].definition.templateLinked: template-linked policies are not supported"
    );
    let mut bad = store.clone();
    bad["policies"][1]["definition"]["static"]["statement"] =
        json!("permit (principal, action, resource) when { nonsense };");
    let err = import(&bad);
    assert!(
        err.starts_with("store.json:25:24: policies[1].definition.static.statement: "),
        "{err}"
    );
    let mut bad = store.clone();
    bad["policies"][1]["definition"]["static"]["statement"] =
        json!("permit (principal, action == PetStore::Action::\"get /nowhere\", resource);");
    let err = import(&bad);
    assert!(err.contains("does not load as a bundle"), "{err}");
    let mut bad = store;
    bad["policies"][1]["policyId"] = json!("not valid!");
    assert_eq!(
        import(&bad),
        "store.json:20:19: policies[1].policyId: \"not valid!\" is not a policy id AVP accepts"
    );
    let err = avp::import("s.json", "{\"schema\": 1}", &avp::ImportOptions::default())
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "s.json:1:12: schema: expected an object with cedarJson"
    );
}

#[test]
fn bundle_documents_carry_a_serial_and_a_signature_the_worker_checks() {
    let dir = scratch("bundle");
    let key_file = dir.join("bundle.key");
    let key_path = key_file.to_str().unwrap();
    let out = cedargate(&["keygen", "--out", key_path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8(out.stdout).unwrap();
    let public = cedargate::BundlePublicKey::from_base64url(public.trim()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An existing key is never replaced.
    assert_eq!(
        cedargate(&["keygen", "--out", key_path]).status.code(),
        Some(2)
    );

    let folder = petstore_dir();
    let folder = folder.to_str().unwrap();
    // A signed document names the deployment it is for.
    let unbound = cedargate(&[
        "bundle",
        "--dir",
        folder,
        "--serial",
        "7",
        "--sign-key",
        key_path,
    ]);
    assert_eq!(unbound.status.code(), Some(2));
    assert!(
        stderr(&unbound).contains("--audience"),
        "{}",
        stderr(&unbound)
    );
    let bad = cedargate(&[
        "bundle",
        "--dir",
        folder,
        "--serial",
        "7",
        "--sign-key",
        key_path,
        "--audience",
        "a b",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--audience"), "{}", stderr(&bad));
    let signed = cedargate(&[
        "bundle",
        "--dir",
        folder,
        "--serial",
        "7",
        "--sign-key",
        key_path,
        "--audience",
        "staging",
    ]);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let text = String::from_utf8(signed.stdout).unwrap();
    assert!(
        !text.contains(
            &std::fs::read_to_string(&key_file)
                .unwrap()
                .trim()
                .to_owned()
        )
    );
    let document =
        cedargate::open_bundle_document_for(text.trim(), Some(&public), Some("staging")).unwrap();
    assert_eq!(document.serial, 7);
    assert_eq!(document.audience.as_deref(), Some("staging"));
    assert_eq!(
        cedargate::open_bundle_document_for(text.trim(), Some(&public), Some("production")),
        Err(cedargate::BundleDocumentError::Audience {
            expected: "production".into(),
            found: Some("staging".into()),
        })
    );
    // Published in compiled form: no text, the folder's bundle (version and policy texts).
    assert!(document.is_compiled());
    assert_eq!(document.source(), None);
    let from_folder = Bundle::load(&folder::read(&petstore_dir()).unwrap()).unwrap();
    let held = document.load_compiled().unwrap();
    assert_eq!(held.version(), from_folder.version());
    assert_eq!(
        held.policy_text("avp-admin-all"),
        from_folder.policy_text("avp-admin-all")
    );
    let other = cedargate::BundleSigningKey::from_seed([9; 32]).unwrap();
    assert_eq!(
        cedargate::open_bundle_document(text.trim(), Some(&other.public_key())),
        Err(cedargate::BundleDocumentError::BadSignature)
    );

    let plain = cedargate(&["bundle", "--dir", folder, "--serial", "8"]);
    let document =
        cedargate::open_bundle_document(String::from_utf8(plain.stdout).unwrap().trim(), None)
            .unwrap();
    assert_eq!(document.serial, 8);
    assert_eq!(
        cedargate(&["bundle", "--dir", folder, "--serial", "0"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        cedargate(&["bundle", "--dir", folder]).status.code(),
        Some(2)
    );
    assert_eq!(
        document.entities, None,
        "the PetStore folder has no entity data"
    );
}

#[test]
fn a_folders_entity_data_goes_into_its_bundle_document_validated() {
    let todo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/authzen-todo");
    let out = cedargate(&["bundle", "--dir", todo.to_str().unwrap(), "--serial", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let document =
        cedargate::open_bundle_document(String::from_utf8(out.stdout).unwrap().trim(), None)
            .unwrap();
    let entities = std::fs::read_to_string(todo.join("entities.json")).unwrap();
    assert_eq!(document.entities.as_deref(), Some(entities.as_str()));
    let bundle = document.load().unwrap();
    assert_eq!(bundle.entities_source(), Some(entities.as_str()));

    // Entity data that does not fit the schema is refused with the folder's name.
    let dir = scratch("bundle-entities");
    for name in ["schema.cedarschema", "policies.cedar", "routes.json"] {
        std::fs::copy(todo.join(name), dir.join(name)).unwrap();
    }
    std::fs::write(
        dir.join("entities.json"),
        r#"[{"uid": {"type": "TodoApp::Nobody", "id": "x"}, "attrs": {}, "parents": []}]"#,
    )
    .unwrap();
    let refused = cedargate(&["bundle", "--dir", dir.to_str().unwrap(), "--serial", "3"]);
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("entities.json"), "{message}");
}

/// A signing key in `dir`, from `keygen`: its file and public key.
fn keygen(dir: &Path) -> (String, cedargate::BundlePublicKey) {
    let file = dir.join("bundle.key");
    let out = cedargate(&["keygen", "--out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let public = cedargate::BundlePublicKey::from_base64url(stdout(&out).trim()).unwrap();
    (file.to_str().unwrap().to_owned(), public)
}

#[test]
fn staged_documents_are_never_live_until_promoted_above_both_serials() {
    use cedargate::{BundleDocumentError, BundleSlot};
    let dir = scratch("promote");
    let (key, public) = keygen(&dir);
    let folder = petstore_dir();
    let folder = folder.to_str().unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let (staged, live, promoted) = (path("staged.json"), path("live.json"), path("new.json"));
    let publish = |serial: &str, out: &str, stage: bool| {
        let mut args = vec![
            "bundle",
            "--dir",
            folder,
            "--serial",
            serial,
            "--sign-key",
            &key,
            "--audience",
            "production",
            "--out",
            out,
        ];
        if stage {
            args.push("--stage");
        }
        let done = cedargate(&args);
        assert!(done.status.success(), "{}", stderr(&done));
        done
    };
    let done = publish("5", &staged, true);
    assert!(stderr(&done).contains("staged bundle"), "{}", stderr(&done));
    publish("7", &live, false);
    let staged_text = std::fs::read_to_string(&staged).unwrap();
    // The staged document is signed, and a worker reading the live entry refuses it.
    assert_eq!(
        cedargate::open_bundle_document_for(&staged_text, Some(&public), Some("production")),
        Err(BundleDocumentError::Slot {
            expected: BundleSlot::Live,
            found: BundleSlot::Staged,
        })
    );
    let staged_document = cedargate::open_bundle_document_for_slot(
        &staged_text,
        Some(&public),
        Some("production"),
        BundleSlot::Staged,
    )
    .unwrap();
    assert_eq!(staged_document.serial, 5);

    // Promoted: live, signed, the serial above the live one's (7), the same bundle.
    let promote = |args: &[&str]| {
        let mut all = vec!["promote"];
        all.extend_from_slice(args);
        cedargate(&all)
    };
    let signed = ["--sign-key", key.as_str(), "--audience", "production"];
    let done = promote(
        &[
            &[
                "--staged",
                staged.as_str(),
                "--live",
                live.as_str(),
                "--out",
                promoted.as_str(),
            ][..],
            &signed[..],
        ]
        .concat(),
    );
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(
        stderr(&done).contains("serial 8 (staged serial 5, live serial 7)"),
        "{}",
        stderr(&done)
    );
    let document = cedargate::open_bundle_document_for(
        &std::fs::read_to_string(&promoted).unwrap(),
        Some(&public),
        Some("production"),
    )
    .unwrap();
    assert_eq!(document.serial, 8);
    assert_eq!(document.slot, BundleSlot::Live);
    assert_eq!(document.audience.as_deref(), Some("production"));
    assert_eq!(document.compiled, staged_document.compiled);
    assert!(document.is_compiled());
    assert_eq!(
        document.load().unwrap().version(),
        staged_document.load().unwrap().version()
    );
    // With only the live serial: above the higher of the two (here the staged one's).
    let done = promote(
        &[
            &["--staged", staged.as_str(), "--live-serial", "3"][..],
            &signed[..],
        ]
        .concat(),
    );
    assert!(done.status.success(), "{}", stderr(&done));
    let document = cedargate::open_bundle_document_for(
        stdout(&done).trim(),
        Some(&public),
        Some("production"),
    )
    .unwrap();
    assert_eq!(document.serial, 6);

    // Each document is read as its entry is: swapped, refused; for another deployment or
    // with another key, refused.
    let refused = |args: &[&str], message: &str| {
        let done = promote(args);
        assert_eq!(done.status.code(), Some(2), "{}", stdout(&done));
        assert!(
            stderr(&done).contains(message),
            "{message}: {}",
            stderr(&done)
        );
    };
    refused(
        &[
            &["--staged", live.as_str(), "--live-serial", "1"][..],
            &signed[..],
        ]
        .concat(),
        "bundle document is live, read as staged",
    );
    refused(
        &[
            &["--staged", staged.as_str(), "--live", staged.as_str()][..],
            &signed[..],
        ]
        .concat(),
        "bundle document is staged, read as live",
    );
    refused(
        &[
            "--staged",
            &staged,
            "--live-serial",
            "1",
            "--sign-key",
            &key,
            "--audience",
            "staging",
        ],
        "bundle document is for audience \"production\", not \"staging\"",
    );
    let other_dir = scratch("promote-other-key");
    let (other_key, _) = keygen(&other_dir);
    refused(
        &[
            "--staged",
            &staged,
            "--live-serial",
            "1",
            "--sign-key",
            &other_key,
            "--audience",
            "production",
        ],
        "bundle signature is invalid",
    );
    refused(
        &["--staged", &staged, "--live-serial", "1"],
        "no public key",
    );
    // One of --live and --live-serial, not both.
    assert_eq!(
        promote(&[&["--staged", staged.as_str()][..], &signed[..]].concat())
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        promote(
            &[
                &[
                    "--staged",
                    staged.as_str(),
                    "--live",
                    live.as_str(),
                    "--live-serial",
                    "1"
                ][..],
                &signed[..]
            ]
            .concat()
        )
        .status
        .code(),
        Some(2)
    );

    // A staged document that no longer validates is not promoted, and the error says why.
    let invalid = cedargate::BundleDocument::new(
        BundleSource {
            policies: "@id(\"delete-pets\")\npermit (principal, action == PetStore::Action::\"delete /pets\", resource);\n".into(),
            ..folder::read(&petstore_dir()).unwrap()
        },
        9,
    )
    .with_audience("production")
    .with_slot(BundleSlot::Staged);
    let signer =
        cedargate::BundleSigningKey::from_base64url(&std::fs::read_to_string(&key).unwrap())
            .unwrap();
    let invalid_path = path("invalid.json");
    std::fs::write(&invalid_path, signer.sign(&invalid).unwrap()).unwrap();
    refused(
        &[
            &["--staged", invalid_path.as_str(), "--live-serial", "1"][..],
            &signed[..],
        ]
        .concat(),
        "the staged bundle does not validate",
    );
    let done = promote(
        &[
            &["--staged", invalid_path.as_str(), "--live-serial", "1"][..],
            &signed[..],
        ]
        .concat(),
    );
    assert!(stderr(&done).contains("delete /pets"), "{}", stderr(&done));

    // Unsigned documents, for a worker without a key: read and written unsigned.
    let plain = cedargate(&["bundle", "--dir", folder, "--serial", "2", "--stage"]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    let plain_path = path("plain.json");
    std::fs::write(&plain_path, stdout(&plain)).unwrap();
    let done = promote(&["--staged", &plain_path, "--live-serial", "9"]);
    assert!(done.status.success(), "{}", stderr(&done));
    let document = cedargate::open_bundle_document_for(stdout(&done).trim(), None, None).unwrap();
    assert_eq!((document.serial, document.slot), (10, BundleSlot::Live));
}

/// The PetStore folder with a `forbid` on listing pets for members of AVP_User.
fn petstore_without_listing_for_users() -> PathBuf {
    let dir = scratch("staged-petstore");
    let mut source = folder::read(&petstore_dir()).unwrap();
    source.policies.push_str(
        "\n// Members of AVP_User may no longer list pets.\n@id(\"users-may-not-list-pets\")\nforbid (\n  principal in PetStore::UserGroup::\"AVP_User\",\n  action == PetStore::Action::\"get /pets\",\n  resource\n);\n",
    );
    folder::write(&dir, &source, true).unwrap();
    dir
}

/// The names of the cases a `diff-decisions` report lists.
fn changed_cases(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|line| line.starts_with('"'))
        .map(|line| line[1..].split('"').next().unwrap().to_owned())
        .collect()
}

#[test]
fn diff_decisions_reports_exactly_the_requests_a_staged_forbid_changes() {
    let staged = petstore_without_listing_for_users();
    let staged = staged.to_str().unwrap();
    let trust = "shared/tests/data/trust.toml";
    let table = "shared/tests/data/petstore_decisions.toml";
    let diff = |live: &str, staged: &str, more: &[&str]| {
        let mut args = vec![
            "diff-decisions",
            "--live",
            live,
            "--staged",
            staged,
            "--trust",
            trust,
            "--at",
            "1800000000",
        ];
        args.extend_from_slice(more);
        cedargate(&args)
    };
    let out = diff("policies/petstore", staged, &["--table", table]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report = stdout(&out);
    // Exactly the cases of AVP_User members listing pets, admins among them.
    assert_eq!(
        changed_cases(&report),
        [
            "user lists pets",
            "user lists pets of a type",
            "user with the group as one string",
            "member of both groups lists pets",
        ],
        "{report}"
    );
    assert!(
        report.contains(
            "\"user lists pets\" GET /pets\n    get /pets: allow → deny\n    live:   avp-user-all-but-post-pets\n    staged: users-may-not-list-pets\n"
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "\"member of both groups lists pets\" GET /pets\n    get /pets: allow → deny\n    live:   avp-admin-all, avp-user-all-but-post-pets\n    staged: users-may-not-list-pets\n"
        ),
        "{report}"
    );
    assert!(
        report.ends_with("41 cases: 4 changed (allow → deny 4), 37 unchanged\n"),
        "{report}"
    );

    // The same bundle on both sides: nothing changes.
    let out = diff(
        "policies/petstore",
        "policies/petstore",
        &["--table", table],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "41 cases: none changed\n");

    // Past requests: a token's claims, or none for a request without a token.
    let dir = scratch("diff-decisions");
    let requests = dir.join("requests.jsonl");
    let issuer_a = ISSUER_A;
    std::fs::write(
        &requests,
        format!(
            r#"{{"issuer": "{issuer_a}", "claims": {{"sub": "bob", "group": ["AVP_User"]}}, "method": "GET", "path": "/pets?limit=5"}}
{{"issuer": "{issuer_a}", "claims": {{"sub": "bob", "group": ["AVP_User"]}}, "method": "GET", "path": "/pets/7"}}

{{"name": "admin", "issuer": "{issuer_a}", "token": "id", "claims": {{"sub": "ann", "group": ["AVP_Admin"]}}, "method": "GET", "path": "/pets"}}
{{"method": "GET", "path": "/pets"}}
{{"name": "no such issuer", "issuer": "https://elsewhere.test", "claims": {{"sub": "eve", "group": ["AVP_User"]}}, "method": "GET", "path": "/pets"}}
"#
        ),
    )
    .unwrap();
    let requests = requests.to_str().unwrap();
    let out = diff("policies/petstore", staged, &["--requests", requests]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report = stdout(&out);
    assert_eq!(
        changed_cases(&report),
        [format!("{requests}:1")],
        "{report}"
    );
    assert!(
        report.ends_with("5 cases: 1 changed (allow → deny 1), 4 unchanged\n"),
        "{report}"
    );
    // Both inputs at once.
    let out = diff(
        "policies/petstore",
        staged,
        &["--table", table, "--requests", requests],
    );
    assert!(
        stdout(&out).ends_with("46 cases: 5 changed (allow → deny 5), 41 unchanged\n"),
        "{}",
        stdout(&out)
    );

    // Bundle documents instead of folders; signed ones with the publisher's key.
    let (key, public) = keygen(&dir);
    let document = dir.join("staged.json");
    let done = cedargate(&[
        "bundle",
        "--dir",
        staged,
        "--serial",
        "4",
        "--stage",
        "--sign-key",
        &key,
        "--audience",
        "production",
        "--out",
        document.to_str().unwrap(),
    ]);
    assert!(done.status.success(), "{}", stderr(&done));
    let document = document.to_str().unwrap();
    let out = diff(
        "policies/petstore",
        document,
        &["--table", table, "--public-key", &public.to_base64url()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(changed_cases(&stdout(&out)).len(), 4);
    let out = diff("policies/petstore", document, &["--table", table]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no public key"), "{}", stderr(&out));

    // Unusable input is 2, naming where.
    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"method\": \"GET\", \"path\": \"/\"}\n{\"issuer\": \"x\", \"method\": \"GET\", \"path\": \"/\"}\n",
    )
    .unwrap();
    let out = diff(
        "policies/petstore",
        staged,
        &["--requests", bad.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{}:2: ", bad.display())),
        "{}",
        stderr(&out)
    );
    let letters = dir.join("letters.toml");
    std::fs::write(
        &letters,
        "[[case]]\nname = \"fourth issuer\"\nissuer = \"D\"\nmethod = \"GET\"\npath = \"/\"\n",
    )
    .unwrap();
    let out = diff(
        "policies/petstore",
        staged,
        &["--table", letters.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("case \"fourth issuer\": issuer \"D\" is not one of the 3 trusted issuers"),
        "{}",
        stderr(&out)
    );
    let out = diff("policies/petstore", staged, &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--table or --requests is required"
    );
}

/// The access bundle with a `forbid` on creating pets for members of AVP_Admin.
fn petstore_access_without_creating_for_admins() -> PathBuf {
    let dir = scratch("staged-petstore-access");
    let mut source = folder::read(&root().join("policies/petstore-access")).unwrap();
    source.policies.push_str(
        "\n// Members of AVP_Admin may no longer create pets.\n@id(\"admins-may-not-create-pets\")\nforbid (\n  principal in PetStore::UserGroup::\"AVP_Admin\",\n  action == PetStore::Action::\"post /pets\",\n  resource\n);\n",
    );
    folder::write(&dir, &source, true).unwrap();
    dir
}

#[test]
fn diff_decisions_maps_both_tokens_of_a_pair() {
    let staged = petstore_access_without_creating_for_admins();
    // The both-tokens guide's trust: groups come from the ID token beside the access token.
    let dir = scratch("diff-decisions-pair");
    let trust = dir.join("trust.json");
    std::fs::write(
        &trust,
        json!({ "issuers": [
            { "issuer": ISSUER_A, "token": "access", "caller": "user", "audiences": [API_AUDIENCE],
              "companion": { "token": "id", "audiences": [CLIENT_ID] } },
        ] })
        .to_string(),
    )
    .unwrap();
    let diff = |input: &[&str]| {
        let mut args = vec![
            "diff-decisions",
            "--live",
            "policies/petstore-access",
            "--staged",
            staged.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
            "--at",
            "1800000000",
        ];
        args.extend_from_slice(input);
        let out = cedargate(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    };
    let report = diff(&["--table", "shared/tests/data/access_pair_decisions.toml"]);
    // Exactly the admins creating pets: their group is only in the ID token.
    assert_eq!(
        changed_cases(&report),
        [
            "admin with both tokens creates a pet",
            "admin's ID token, access token without pets:write",
            "admin's ID token, access token without the permission",
        ],
        "{report}"
    );
    assert!(
        report.contains(
            "\"admin with both tokens creates a pet\" POST /pets\n    post /pets: allow → deny\n"
        ),
        "{report}"
    );
    // Past requests: the pair changes; the access token alone is refused on both sides, as
    // the edge refuses it.
    let lines = dir.join("requests.jsonl");
    let access = format!(
        r#""issuer": "{ISSUER_A}", "token": "access", "claims": {{"sub": "alice", "scope": "pets:write", "p1.permissions": ["pets:create"]}}, "method": "POST", "path": "/pets""#
    );
    std::fs::write(
        &lines,
        format!(
            "{{\"name\": \"pair\", {access}, \"companion\": {{\"sub\": \"alice\", \"group\": [\"AVP_Admin\"]}}}}\n{{\"name\": \"alone\", {access}}}\n"
        ),
    )
    .unwrap();
    let report = diff(&["--requests", lines.to_str().unwrap()]);
    assert_eq!(changed_cases(&report), ["pair"], "{report}");
    assert!(
        report.ends_with("2 cases: 1 changed (allow → deny 1), 1 unchanged\n"),
        "{report}"
    );
}
