//! `cedargate`: policy folders from OpenAPI documents, checked, compared, explained, and
//! moved to and from Amazon Verified Permissions. See `cedargate help`.

use cedargate::{Bundle, BundleSlot, TokenKind, TrustConfig, UnixTime};
use cedargate_cli::{
    avp, check, diff, diff_decisions, explain, folder, generate, openapi::Api, pingone,
};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status of a negative answer.
const NO: u8 = 1;
/// Exit status of unusable input (clap uses it for usage errors too).
const BAD: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "cedargate",
    version,
    about = "Policy folders for the cedargate edge: from OpenAPI, checked, compared, explained, signed, staged and promoted, and moved to and from Amazon Verified Permissions",
    after_help = "exit status: 0 success (check clean, no API change, request allowed, no decision changed); 1 a negative answer (check found errors, the API changed, request denied, decisions changed); 2 unusable input or usage"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A policy folder from an OpenAPI document or a PingOne Authorize API service.
    ///
    /// With --openapi: writes DIR/schema.cedarschema (one action "<method> <path>" per
    /// operation; x-amazon-apigateway-any-method expanded to get, post, put, patch, delete;
    /// OPTIONS and TRACE left out), DIR/routes.json and DIR/policies.cedar with one policy
    /// per --group and --client, and a forbid per operation for the scopes its `security`
    /// requires and the permissions its `x-cedargate-permissions` lists.
    ///
    /// With --pingone-api-service: one action per method and path of each operation, a
    /// permit per operation (its group rule, or any verified token), a forbid per scope,
    /// permission and authentication rule (the last a step-up forbid), and
    /// DIR/pingone-api-service.json with what has no Cedar counterpart. A rule cedargate
    /// cannot express is refused, never dropped. See docs/src/reference/cli.md.
    Init {
        /// The OpenAPI 3.0 or 3.1 document (YAML or JSON).
        #[arg(long, required_unless_present = "pingone_api_service")]
        openapi: Option<String>,
        /// A PingOne Authorize API service and its operations (JSON: {"apiService": ...,
        /// "operations": ..., "resource": ...} as PingOne's Platform API returns them).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["openapi", "groups", "clients"])]
        pingone_api_service: Option<String>,
        /// ID=NAME: the name tokens carry for a group, scope, permission or sign-on policy
        /// the API service refers to by id only (with --pingone-api-service).
        #[arg(
            long = "name",
            value_name = "ID=NAME",
            requires = "pingone_api_service"
        )]
        names: Vec<String>,
        /// The Cedar namespace.
        #[arg(long)]
        namespace: String,
        /// The folder to write.
        #[arg(long)]
        out: PathBuf,
        /// NAME=SPEC: `AVP_Admin=all` (every action), `'AVP_User=all,-post /pets'` (every
        /// action but these), `'Readers=get /pets,get /pets/{petId}'` (only these).
        #[arg(long = "group", value_name = "NAME=SPEC")]
        groups: Vec<String>,
        /// ID=SPEC: what a service calling with client credentials (client id ID) may do,
        /// with the same SPEC as --group; needs an oauth2 scheme with a clientCredentials
        /// flow in the document.
        #[arg(long = "client", value_name = "ID=SPEC")]
        clients: Vec<String>,
        /// The resource entity's id (default: the namespace).
        #[arg(long)]
        resource_id: Option<String>,
        /// Replace the folder's files.
        #[arg(long)]
        force: bool,
    },
    /// Validates a folder and finds what cannot be right.
    ///
    /// Validates the folder as the edge loads it; lists routes whose action is not declared,
    /// actions no route reaches and actions no policy can ever allow.
    Check {
        #[arg(long)]
        dir: PathBuf,
        /// Warnings count as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// What changed in the API since the folder was generated.
    Diff {
        #[arg(long)]
        openapi: String,
        #[arg(long)]
        dir: PathBuf,
    },
    /// Decides one request offline, step by step, as the edge would.
    ///
    /// --trust takes the
    /// edge's `trust` setting (TOML or JSON); without it the token's own issuer is trusted
    /// for --audience. The token is never printed; prefer @FILE or - (stdin) to a literal.
    Explain {
        #[arg(long)]
        dir: PathBuf,
        /// The issuer's JWKS document.
        #[arg(long)]
        jwks: String,
        /// The issuer whose keys --jwks holds; needed when --trust names several issuers
        /// (the keys then verify that issuer's tokens only).
        #[arg(long, requires = "trust")]
        issuer: Option<String>,
        /// JWT, @FILE, or - for standard input.
        #[arg(long, value_name = "JWT|@FILE|-")]
        token: String,
        /// The edge's trust configuration (TOML or JSON).
        #[arg(long, conflicts_with = "audience")]
        trust: Option<String>,
        /// Accepted audiences, when the token's own issuer is trusted.
        #[arg(long, required_unless_present = "trust")]
        audience: Vec<String>,
        /// The kind of token, with --audience.
        #[arg(long, value_enum, default_value = "id")]
        kind: Kind,
        /// The time to decide at (Unix seconds; default now).
        #[arg(long, value_name = "UNIX_SECONDS")]
        at: Option<i64>,
        /// e.g. GET
        method: String,
        /// e.g. /pets/7
        path: String,
    },
    /// What a folder gives back in another product's terms.
    ///
    /// --pingone-api-service: the PingOne Authorize API service and operations a folder
    /// `init --pingone-api-service` wrote, as init reads them (JSON). Refused when the
    /// folder's files are no longer exactly what init wrote.
    Export {
        #[arg(long)]
        dir: PathBuf,
        /// Write a PingOne Authorize API service (the only format so far).
        #[arg(long, required = true)]
        pingone_api_service: bool,
        #[arg(long)]
        out: Option<String>,
    },
    /// The folder as an Amazon Verified Permissions policy store document (JSON).
    AvpExport {
        #[arg(long)]
        dir: String,
        #[arg(long)]
        out: Option<String>,
    },
    /// A folder from an Amazon Verified Permissions policy store document.
    ///
    /// A policy store document (as avp-export writes it) as a folder; routes come from
    /// actions named "<method> <path>".
    AvpImport {
        #[arg(long)]
        store: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        resource_id: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// The document a worker reads from KV, with a serial, optionally signed.
    ///
    /// The folder, validated as the edge loads it, as the document a worker reads from KV:
    /// JSON with the publisher's serial (a worker takes only a higher serial than the bundle
    /// in force), signed with Ed25519 when --sign-key is given (see keygen). A folder's
    /// entity data (entities.json) goes along, validated with the bundle. A signed document
    /// names the deployment it is for (--audience), inside what is signed: a worker whose
    /// `bundle_kv.audience` is another refuses it. With --stage the document is a staged
    /// candidate (`"slot": "staged"`, inside what is signed), which a worker never takes as
    /// the live bundle; `promote` makes it live.
    Bundle {
        #[arg(long)]
        dir: PathBuf,
        /// At least 1 (the built-in bundle has 0).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        serial: u64,
        /// The private key file `keygen` wrote.
        #[arg(long, requires = "audience")]
        sign_key: Option<String>,
        /// The deployment the document is for: the `bundle_kv.audience` of the workers that
        /// may take it (`production`, `staging`). Required with --sign-key.
        #[arg(long)]
        audience: Option<String>,
        /// A staged candidate, for the staged KV entry, instead of the live bundle.
        #[arg(long)]
        stage: bool,
        #[arg(long)]
        out: Option<String>,
    },
    /// The staged document as the live one, with a serial above both.
    ///
    /// Reads the staged document (`bundle --stage`) and the live one (or only its serial,
    /// --live-serial), each as a worker of the deployment reads its KV entry: with --sign-key,
    /// both must be signed by that key (its public half is the worker's
    /// `bundle_kv.public_key`) for --audience, the staged one staged and the live one live;
    /// without, both unsigned. Validates the staged bundle again as the edge loads it
    /// (refused with the validation error when it no longer validates), and writes it as a
    /// live document with the serial one above the higher of the two, for the same audience,
    /// signed with --sign-key. The bundle, its entity data and its version stay the staged
    /// document's.
    Promote {
        /// The staged document.
        #[arg(long, value_name = "FILE")]
        staged: String,
        /// The live document, whose serial the new one must pass.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "live_serial",
            conflicts_with = "live_serial"
        )]
        live: Option<String>,
        /// The live bundle's serial, instead of its document.
        #[arg(long, value_name = "N")]
        live_serial: Option<u64>,
        /// The private key file `keygen` wrote.
        #[arg(long, requires = "audience")]
        sign_key: Option<String>,
        /// The deployment both documents are for (`bundle_kv.audience`). Required with
        /// --sign-key.
        #[arg(long)]
        audience: Option<String>,
        #[arg(long)]
        out: Option<String>,
    },
    /// Which requests a staged bundle decides differently from the live one.
    ///
    /// Decides every case of --table and every request of --requests with both bundles,
    /// offline, as the edge decides after the token: the claims mapped to a principal by
    /// --trust (the edge's `trust` setting, TOML or JSON), the route matched, the policies
    /// evaluated at --at. Prints each request whose outcome, action or deciding policies
    /// differ, then a summary; exit status 0 when none differs, 1 when some do.
    ///
    /// --table is a decision table (shared/tests/data/petstore_decisions.toml): `[[case]]`
    /// entries with `name`, `method`, `path` and the principal as `issuer` ("A", "B", ...:
    /// the configuration's first, second ... issuer, or an issuer; default "A"), `token` ("id"
    /// or "access"; default "id"), `group` (the `group` claim) and `claims` (over `sub`
    /// "alice"; `"<remove>"` removes one); `expect`, `policies` and `reason` are not read.
    ///
    /// --requests has one JSON object per line: {"issuer": ISS, "token": "id", "claims":
    /// {...}, "method": "GET", "path": "/pets"}, with an optional "name"; without "issuer"
    /// and "claims", a request that carried no token. The claims are those of the verified
    /// token that the mapping reads (`sub`, the group claim, `scope`, permissions,
    /// `client_id`). A worker's log line names issuer, subject, client and action only: it
    /// cannot be replayed as it is.
    DiffDecisions {
        /// The bundle in force: a policy folder or a bundle document.
        #[arg(long, value_name = "DIR|FILE")]
        live: PathBuf,
        /// The candidate: a policy folder or a bundle document.
        #[arg(long, value_name = "DIR|FILE")]
        staged: PathBuf,
        /// The edge's trust configuration (TOML or JSON).
        #[arg(long, value_name = "FILE")]
        trust: String,
        /// A decision table (TOML).
        #[arg(long, value_name = "FILE", required_unless_present = "requests")]
        table: Option<String>,
        /// Past requests, one JSON object per line.
        #[arg(long, value_name = "FILE")]
        requests: Option<String>,
        /// The publisher's public key (`bundle_kv.public_key`), to read signed documents.
        #[arg(long, value_name = "KEY")]
        public_key: Option<String>,
        /// The time to decide at (Unix seconds; default now).
        #[arg(long, value_name = "UNIX_SECONDS")]
        at: Option<i64>,
    },
    /// A new Ed25519 key for signing bundles.
    ///
    /// The private seed goes to FILE (created, mode
    /// 0600; keep it out of the repository), the public key for the worker's
    /// `bundle_kv.public_key` is printed.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    Id,
    Access,
}

/// Paths, comma-separated.
fn shown(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{path}: cannot read: {e}"))
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Init {
            openapi,
            pingone_api_service,
            names,
            namespace,
            out,
            groups,
            clients,
            resource_id,
            force,
        } => match (openapi, pingone_api_service) {
            (_, Some(file)) => init_pingone(&file, &namespace, &out, &names, resource_id, force),
            (Some(_), None) if !names.is_empty() => {
                Err("--name names what a PingOne API service refers to by id: use it with --pingone-api-service".into())
            }
            (Some(openapi), None) => init(
                &openapi,
                namespace,
                &out,
                &groups,
                &clients,
                resource_id,
                force,
            ),
            // clap requires one of them.
            (None, None) => Err("--openapi or --pingone-api-service is required".into()),
        },
        Command::Export {
            dir,
            pingone_api_service: _,
            out,
        } => export_pingone(&dir, out.as_deref()),
        Command::Check { dir, deny_warnings } => run_check(&dir, deny_warnings),
        Command::Diff { openapi, dir } => run_diff(&openapi, &dir),
        Command::Explain {
            dir,
            jwks,
            issuer,
            token,
            trust,
            audience,
            kind,
            at,
            method,
            path,
        } => run_explain(
            &dir,
            &jwks,
            issuer.as_deref(),
            &token,
            trust.as_deref(),
            audience,
            kind,
            at,
            &method,
            &path,
        ),
        Command::AvpExport { dir, out } => avp_export(&dir, out.as_deref()),
        Command::AvpImport {
            store,
            out,
            resource_id,
            force,
        } => avp_import(&store, &out, resource_id, force),
        Command::Bundle {
            dir,
            serial,
            sign_key,
            audience,
            stage,
            out,
        } => bundle(
            &dir,
            serial,
            sign_key.as_deref(),
            audience.as_deref(),
            if stage {
                BundleSlot::Staged
            } else {
                BundleSlot::Live
            },
            out.as_deref(),
        ),
        Command::Promote {
            staged,
            live,
            live_serial,
            sign_key,
            audience,
            out,
        } => promote(
            &staged,
            live.as_deref(),
            live_serial,
            sign_key.as_deref(),
            audience.as_deref(),
            out.as_deref(),
        ),
        Command::DiffDecisions {
            live,
            staged,
            trust,
            table,
            requests,
            public_key,
            at,
        } => run_diff_decisions(
            &live,
            &staged,
            &trust,
            table.as_deref(),
            requests.as_deref(),
            public_key.as_deref(),
            at,
        ),
        Command::Keygen { out } => keygen(&out),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("cedargate: {message}");
            ExitCode::from(BAD)
        }
    }
}

fn bundle(
    dir: &Path,
    serial: u64,
    sign_key: Option<&str>,
    audience: Option<&str>,
    slot: BundleSlot,
    out: Option<&str>,
) -> Result<u8, String> {
    let source = folder::read(dir)?;
    let mut document = cedargate::BundleDocument::new(source, serial).with_slot(slot);
    if let Some(audience) = audience {
        cedargate::check_bundle_audience(audience).map_err(|e| format!("--audience: {e}"))?;
        document = document.with_audience(audience);
    } else if sign_key.is_some() {
        // clap requires it; a signed document is never written unbound.
        return Err("--sign-key needs --audience, the deployment the document is for".into());
    }
    if let Some(entities) = folder::read_entities(dir)? {
        document = document.with_entities(entities);
    }
    // Validated here, and published in compiled form: the worker loads it without a Cedar
    // text parser (and validates it again as it loads).
    let document = document
        .compile()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let bundle = document
        .load()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let key = sign_key.map(signing_key).transpose()?;
    let what = format!("{slot} bundle {} serial {serial}", bundle.version());
    write_document(&document, key.as_ref(), out, &what)
}

fn signing_key(path: &str) -> Result<cedargate::BundleSigningKey, String> {
    cedargate::BundleSigningKey::from_base64url(&read(path)?).map_err(|e| format!("{path}: {e}"))
}

/// Writes `document`, signed with `key` when there is one, to `out` or standard output.
fn write_document(
    document: &cedargate::BundleDocument,
    key: Option<&cedargate::BundleSigningKey>,
    out: Option<&str>,
    what: &str,
) -> Result<u8, String> {
    let text = match key {
        Some(key) => key.sign(document).map_err(|e| e.to_string())?,
        None => serde_json::to_string(document).map_err(|e| e.to_string())?,
    };
    match out {
        Some(out) => {
            std::fs::write(out, &text).map_err(|e| format!("{out}: cannot write: {e}"))?;
            eprintln!("{what}: wrote {out}");
        }
        None => println!("{text}"),
    }
    Ok(0)
}

fn promote(
    staged_path: &str,
    live_path: Option<&str>,
    live_serial: Option<u64>,
    sign_key: Option<&str>,
    audience: Option<&str>,
    out: Option<&str>,
) -> Result<u8, String> {
    if let Some(audience) = audience {
        cedargate::check_bundle_audience(audience).map_err(|e| format!("--audience: {e}"))?;
    }
    let key = sign_key.map(signing_key).transpose()?;
    let public = key.as_ref().map(cedargate::BundleSigningKey::public_key);
    let staged = cedargate::open_bundle_document_for_slot(
        &read(staged_path)?,
        public.as_ref(),
        audience,
        BundleSlot::Staged,
    )
    .map_err(|e| format!("{staged_path}: {e}"))?;
    let live_serial = match (live_path, live_serial) {
        (Some(path), _) => {
            cedargate::open_bundle_document_for(&read(path)?, public.as_ref(), audience)
                .map_err(|e| format!("{path}: {e}"))?
                .serial
        }
        (None, Some(serial)) => serial,
        // clap requires one of them.
        (None, None) => return Err("--live or --live-serial is required".into()),
    };
    let bundle = staged
        .load()
        .map_err(|e| format!("{staged_path}: the staged bundle does not validate: {e}"))?;
    let serial = staged
        .serial
        .max(live_serial)
        .checked_add(1)
        .ok_or("no serial is higher than the staged or the live one")?;
    let staged_serial = staged.serial;
    // A text candidate (from before documents were compiled) goes live compiled, as the
    // worker reads it.
    let document = cedargate::BundleDocument { serial, ..staged }
        .with_slot(BundleSlot::Live)
        .compile()
        .map_err(|e| format!("{staged_path}: {e}"))?;
    let what = format!(
        "live bundle {} serial {serial} (staged serial {staged_serial}, live serial {live_serial})",
        bundle.version()
    );
    write_document(&document, key.as_ref(), out, &what)
}

fn run_diff_decisions(
    live: &Path,
    staged: &Path,
    trust: &str,
    table: Option<&str>,
    requests: Option<&str>,
    public_key: Option<&str>,
    at: Option<i64>,
) -> Result<u8, String> {
    let key = public_key
        .map(|text| {
            cedargate::BundlePublicKey::from_base64url(text)
                .map_err(|e| format!("--public-key: {e}"))
        })
        .transpose()?;
    let config = read_trust(trust)?;
    let gate = |path: &Path| -> Result<cedargate::Gate, String> {
        let bundle = diff_decisions::load_bundle(path, key.as_ref())?;
        cedargate::Gate::new(bundle, &config)
            .map_err(|e| format!("{trust}: does not fit {}: {e}", path.display()))
    };
    let (live_gate, staged_gate) = (gate(live)?, gate(staged)?);
    let mut cases = Vec::new();
    if let Some(path) = table {
        let table: cedargate::decision_table::DecisionTable =
            toml::from_str(&read(path)?).map_err(|e| format!("{path}: {e}"))?;
        let issuers = live_gate.trust().issuers();
        cases.extend(
            diff_decisions::table_cases(&table, &issuers).map_err(|e| format!("{path}: {e}"))?,
        );
    }
    if let Some(path) = requests {
        cases.extend(diff_decisions::request_cases(path, &read(path)?)?);
    }
    let values = cedargate::RequestValues::at(now(at));
    let report = diff_decisions::compare(&live_gate, &staged_gate, &cases, &values);
    print!("{}", report.text());
    Ok(if report.changes.is_empty() { 0 } else { NO })
}

fn keygen(out: &str) -> Result<u8, String> {
    let key = cedargate::BundleSigningKey::from_seed(*ed25519_compact::Seed::generate())
        .map_err(|e| e.to_string())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(out)
        .map_err(|e| format!("{out}: cannot create (an existing key is never replaced): {e}"))?;
    use std::io::Write as _;
    writeln!(file, "{}", key.to_base64url()).map_err(|e| format!("{out}: cannot write: {e}"))?;
    println!("{}", key.public_key().to_base64url());
    Ok(0)
}

fn load_api(path: &str) -> Result<Api, String> {
    Api::parse(path, &read(path)?).map_err(|e| e.to_string())
}

fn init(
    file: &str,
    namespace: String,
    out: &Path,
    groups: &[String],
    clients: &[String],
    resource_id: Option<String>,
    force: bool,
) -> Result<u8, String> {
    let api = load_api(file)?;
    let groups = groups
        .iter()
        .map(|spec| generate::GroupRule::parse(spec, &api))
        .chain(
            clients
                .iter()
                .map(|spec| generate::GroupRule::parse_client(spec, &api)),
        )
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let options = generate::InitOptions {
        resource_id: resource_id.unwrap_or_else(|| namespace.clone()),
        namespace,
        groups,
        source_name: Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.to_owned()),
    };
    let generated = generate::generate(&api, &options).map_err(|e| e.to_string())?;
    let written = folder::write(
        out,
        &cedargate::BundleSource {
            schema: generated.schema,
            policies: generated.policies,
            routes: generated.routes,
        },
        force,
    )?;
    for note in &api.skipped {
        println!("skipped {note}");
    }
    for op in &api.operations {
        match &op.security {
            cedargate_cli::openapi::Security::Public => println!(
                "note: {} is public (security: []): the edge lets it through without a token, decided for the Anonymous principal",
                op.action()
            ),
            cedargate_cli::openapi::Security::Unstated if !api.schemes.is_empty() => println!(
                "note: {} states no security requirement; only the group policies guard it",
                op.action()
            ),
            cedargate_cli::openapi::Security::Unstated
            | cedargate_cli::openapi::Security::Scopes(_) => {}
        }
    }
    println!(
        "{} actions from {} ({} {}); wrote {}",
        api.operations.len(),
        file,
        api.title,
        api.version,
        shown(&written)
    );
    Ok(0)
}

fn init_pingone(
    file: &str,
    namespace: &str,
    out: &Path,
    names: &[String],
    resource_id: Option<String>,
    force: bool,
) -> Result<u8, String> {
    let service = pingone::parse(file, &read(file)?, names)?;
    let resource_id = resource_id.unwrap_or_else(|| namespace.to_owned());
    let generated = pingone::generate(&service, namespace, &resource_id)?;
    let written = folder::write_files(
        out,
        &[
            (cedargate::SCHEMA_FILE, &generated.source.schema),
            (cedargate::POLICIES_FILE, &generated.source.policies),
            (cedargate::ROUTES_FILE, &generated.source.routes),
            (pingone::SIDECAR_FILE, &generated.sidecar),
        ],
        force,
    )?;
    for note in &generated.notes {
        println!("note: {note}");
    }
    println!(
        "{} operations of the API service \"{}\" from {file}; wrote {}",
        service.operations.len(),
        service.name,
        shown(&written)
    );
    Ok(0)
}

/// `document` as pretty JSON into `out`, or on standard output without one.
fn write_json<T: serde::Serialize>(document: &T, out: Option<&str>) -> Result<u8, String> {
    let text = serde_json::to_string_pretty(document).map_err(|e| e.to_string())? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("{path}: cannot write: {e}"))?;
            println!("wrote {path}");
        }
        None => print!("{text}"),
    }
    Ok(0)
}

fn export_pingone(dir: &Path, out: Option<&str>) -> Result<u8, String> {
    let source = folder::read(dir)?;
    let document = pingone::export(dir, &source)?;
    write_json(&document, out)
}

fn run_check(dir: &Path, deny_warnings: bool) -> Result<u8, String> {
    let source = folder::read(dir)?;
    let report = check::check(&source);
    for e in &report.errors {
        println!("error: {}: {e}", dir.display());
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    if let Some(summary) = &report.summary {
        println!("{summary}");
    }
    for id in &report.no_requirement {
        println!(
            "note: action \"{id}\" has no scope or permission requirement: a token without any can be allowed"
        );
    }
    let failed = !report.errors.is_empty() || (deny_warnings && !report.warnings.is_empty());
    Ok(if failed { NO } else { 0 })
}

fn run_diff(openapi: &str, dir: &Path) -> Result<u8, String> {
    let api = load_api(openapi)?;
    let source = folder::read(dir)?;
    let changes = diff::diff(&api, &source)?;
    if changes.is_empty() {
        println!("no changes: every operation is declared with the same parameters and routed");
        return Ok(0);
    }
    for change in &changes {
        println!("{change}");
    }
    println!(
        "{} changes; regenerate with `cedargate init --force` or edit the folder",
        changes.len()
    );
    Ok(NO)
}

#[allow(clippy::too_many_arguments)]
fn run_explain(
    dir: &Path,
    jwks: &str,
    jwks_issuer: Option<&str>,
    token: &str,
    trust: Option<&str>,
    audiences: Vec<String>,
    kind: Kind,
    at: Option<i64>,
    method: &str,
    target: &str,
) -> Result<u8, String> {
    let bundle =
        Bundle::load(&folder::read(dir)?).map_err(|e| format!("{}: {e}", dir.display()))?;
    let jwks = read(jwks)?;
    let token = match token {
        "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("--token -: cannot read stdin: {e}"))?;
            text
        }
        value => match value.strip_prefix('@') {
            Some(path) => read(path)?,
            None => value.to_owned(),
        },
    };
    let trust = match trust {
        Some(path) => explain::TrustChoice::Config(read_trust(path)?),
        None => {
            let kind = match kind {
                Kind::Id => TokenKind::Id,
                Kind::Access => TokenKind::Access,
            };
            explain::TrustChoice::Audiences(audiences, kind)
        }
    };
    let now = now(at);
    let answer = explain::explain(
        bundle,
        &explain::Question {
            token: token.trim(),
            jwks: &jwks,
            jwks_issuer,
            trust,
            method,
            target,
            now,
        },
    )?;
    print!("{}", answer.text);
    Ok(if answer.allowed { 0 } else { NO })
}

/// The edge's trust configuration: TOML when the file name ends in `.toml`, else JSON.
fn read_trust(path: &str) -> Result<TrustConfig, String> {
    let text = read(path)?;
    if path.ends_with(".toml") {
        toml::from_str(&text).map_err(|e| format!("{path}: {e}"))
    } else {
        serde_json::from_str(&text).map_err(|e| format!("{path}:{}:{}: {e}", e.line(), e.column()))
    }
}

/// `at`, or the time now.
fn now(at: Option<i64>) -> UnixTime {
    match at {
        Some(at) => UnixTime(at),
        None => UnixTime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        ),
    }
}

fn avp_export(dir: &str, out: Option<&str>) -> Result<u8, String> {
    let bundle = Bundle::load(&folder::read(Path::new(dir))?).map_err(|e| format!("{dir}: {e}"))?;
    let document = avp::export(&bundle)?;
    write_json(&document, out)
}

fn avp_import(
    store: &str,
    out: &Path,
    resource_id: Option<String>,
    force: bool,
) -> Result<u8, String> {
    let imported = avp::import(store, &read(store)?, &avp::ImportOptions { resource_id })
        .map_err(|e| e.to_string())?;
    for note in &imported.notes {
        println!("note: {note}");
    }
    let written = folder::write(out, &imported.source, force)?;
    println!("wrote {}", shown(&written));
    Ok(0)
}
