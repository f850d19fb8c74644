//! `cedargate`: policy folders from OpenAPI documents, checked, compared, explained, and
//! moved to and from Amazon Verified Permissions. See `cedargate help`.

use cedargate::{Bundle, TokenKind, TrustConfig, UnixTime};
use cedargate_cli::{avp, check, diff, explain, folder, generate, openapi::Api};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cedargate <command> [options]

commands:
  init --openapi FILE --namespace NS --out DIR [--group NAME=SPEC]... [--resource-id ID] [--force]
      Writes DIR/schema.cedarschema (one action \"<method> <path>\" per operation; x-amazon-
      apigateway-any-method expanded to get, post, put, patch, delete; OPTIONS and TRACE left
      out), DIR/routes.json and DIR/policies.cedar with one policy per --group:
        --group AVP_Admin=all                 every action
        --group 'AVP_User=all,-post /pets'    every action but these
        --group 'Readers=get /pets,get /pets/{petId}'   only these
  check --dir DIR [--deny-warnings]
      Validates the folder as the edge loads it; lists routes whose action is not declared,
      actions no route reaches and actions no policy can ever allow.
  diff --openapi FILE --dir DIR
      What changed in the API since the folder was generated.
  explain --dir DIR --jwks FILE --token JWT|@FILE|- (--trust FILE | --audience AUD [--kind id|access])
          [--at UNIX_SECONDS] METHOD PATH
      Decides one request offline, step by step, as the edge would. --trust takes the edge's
      `trust` setting (TOML or JSON); without it the token's own issuer is trusted for
      --audience. The token is never printed; prefer @FILE or - (stdin) to a literal.
  bundle --dir DIR --serial N [--sign-key FILE] [--out FILE]
      The folder, validated as the edge loads it, as the document a worker reads from KV:
      JSON with the publisher's serial (a worker takes only a higher serial than the bundle
      in force), signed with Ed25519 when --sign-key is given (see keygen).
  keygen --out FILE
      A new Ed25519 key for signing bundles: the private seed goes to FILE (created, mode
      0600; keep it out of the repository), the public key for the worker's
      `bundle_kv.public_key` is printed.
  avp-export --dir DIR [--out FILE]
      The folder as an Amazon Verified Permissions policy store document (JSON).
  avp-import --store FILE --out DIR [--resource-id ID] [--force]
      A policy store document (as avp-export writes it) as a folder; routes come from
      actions named \"<method> <path>\".
  help

exit status: 0 success (check clean, no API change, request allowed); 1 a negative answer
(check found errors, the API changed, request denied); 2 unusable input or usage.
";

/// Exit status of a negative answer.
const NO: u8 = 1;
/// Exit status of unusable input.
const BAD: u8 = 2;

struct Args {
    flags: BTreeMap<String, Vec<String>>,
    switches: Vec<String>,
    positional: Vec<String>,
}

impl Args {
    fn parse(args: &[String], switches: &[&str]) -> Result<Self, String> {
        let mut out = Args {
            flags: BTreeMap::new(),
            switches: Vec::new(),
            positional: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if let Some(name) = arg.strip_prefix("--") {
                if switches.contains(&name) {
                    out.switches.push(name.to_owned());
                    continue;
                }
                let (name, value) = match name.split_once('=') {
                    Some((n, v)) => (n.to_owned(), v.to_owned()),
                    None => (
                        name.to_owned(),
                        it.next()
                            .ok_or_else(|| format!("--{name} needs a value"))?
                            .clone(),
                    ),
                };
                out.flags.entry(name).or_default().push(value);
            } else {
                out.positional.push(arg.clone());
            }
        }
        Ok(out)
    }

    fn one(&self, name: &str) -> Result<Option<&str>, String> {
        match self.flags.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(one)),
            Some(_) => Err(format!("--{name} is given more than once")),
        }
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.one(name)?
            .ok_or_else(|| format!("--{name} is required"))
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.flags.get(name).cloned().unwrap_or_default()
    }

    fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    /// Refuses options the command does not know.
    fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.flags.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown option --{k}")),
            None => Ok(()),
        }
    }
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("init") => init(&args[1..]),
        Some("check") => run_check(&args[1..]),
        Some("diff") => run_diff(&args[1..]),
        Some("explain") => run_explain(&args[1..]),
        Some("avp-export") => avp_export(&args[1..]),
        Some("bundle") => bundle(&args[1..]),
        Some("keygen") => keygen(&args[1..]),
        Some("avp-import") => avp_import(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(0)
        }
        Some(other) => Err(format!("unknown command \"{other}\" (see cedargate help)")),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("cedargate: {message}");
            ExitCode::from(BAD)
        }
    }
}

fn bundle(args: &[String]) -> Result<u8, String> {
    let a = Args::parse(args, &[])?;
    a.only(&["dir", "serial", "sign-key", "out"])?;
    let dir = PathBuf::from(a.required("dir")?);
    let serial: u64 = a
        .required("serial")?
        .parse()
        .map_err(|_| "--serial must be a whole number".to_owned())?;
    if serial == 0 {
        return Err("--serial must be at least 1 (the built-in bundle has 0)".into());
    }
    let source = folder::read(&dir)?;
    let bundle = Bundle::load(&source).map_err(|e| format!("{}: {e}", dir.display()))?;
    let document = cedargate::BundleDocument::new(source, serial);
    let text = match a.one("sign-key")? {
        Some(path) => {
            let key = cedargate::BundleSigningKey::from_base64url(&read(path)?)
                .map_err(|e| format!("{path}: {e}"))?;
            key.sign(&document).map_err(|e| e.to_string())?
        }
        None => serde_json::to_string(&document).map_err(|e| e.to_string())?,
    };
    match a.one("out")? {
        Some(out) => {
            std::fs::write(out, &text).map_err(|e| format!("{out}: cannot write: {e}"))?;
            eprintln!("bundle {} serial {serial}: wrote {out}", bundle.version());
        }
        None => println!("{text}"),
    }
    Ok(0)
}

fn keygen(args: &[String]) -> Result<u8, String> {
    let a = Args::parse(args, &[])?;
    a.only(&["out"])?;
    let out = a.required("out")?;
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

fn init(args: &[String]) -> Result<u8, String> {
    let a = Args::parse(args, &["force"])?;
    a.only(&["openapi", "namespace", "out", "group", "resource-id"])?;
    let file = a.required("openapi")?;
    let api = load_api(file)?;
    let groups = a
        .all("group")
        .iter()
        .map(|spec| generate::GroupRule::parse(spec, &api))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let namespace = a.required("namespace")?.to_owned();
    let options = generate::InitOptions {
        resource_id: a.one("resource-id")?.unwrap_or(&namespace).to_owned(),
        namespace,
        groups,
        source_name: Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.to_owned()),
    };
    let out = PathBuf::from(a.required("out")?);
    let generated = generate::generate(&api, &options).map_err(|e| e.to_string())?;
    let written = folder::write(
        &out,
        &cedargate::BundleSource {
            schema: generated.schema,
            policies: generated.policies,
            routes: generated.routes,
        },
        a.switch("force"),
    )?;
    for note in &api.skipped {
        println!("skipped {note}");
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

fn run_check(args: &[String]) -> Result<u8, String> {
    let a = Args::parse(args, &["deny-warnings"])?;
    a.only(&["dir"])?;
    let dir = Path::new(a.required("dir")?);
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
    let failed =
        !report.errors.is_empty() || (a.switch("deny-warnings") && !report.warnings.is_empty());
    Ok(if failed { NO } else { 0 })
}

fn run_diff(args: &[String]) -> Result<u8, String> {
    let a = Args::parse(args, &[])?;
    a.only(&["openapi", "dir"])?;
    let api = load_api(a.required("openapi")?)?;
    let source = folder::read(Path::new(a.required("dir")?))?;
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

fn run_explain(args: &[String]) -> Result<u8, String> {
    let a = Args::parse(args, &[])?;
    a.only(&["dir", "jwks", "token", "trust", "audience", "kind", "at"])?;
    let [method, target] = a.positional.as_slice() else {
        return Err("explain needs METHOD and PATH, e.g. GET /pets/7".into());
    };
    let bundle = Bundle::load(&folder::read(Path::new(a.required("dir")?))?)
        .map_err(|e| format!("{}: {e}", a.required("dir").unwrap_or_default()))?;
    let jwks = read(a.required("jwks")?)?;
    let token = match a.required("token")? {
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
    let trust = match (a.one("trust")?, a.all("audience")) {
        (Some(path), audiences) if audiences.is_empty() => {
            let text = read(path)?;
            let config: TrustConfig = if path.ends_with(".toml") {
                toml::from_str(&text).map_err(|e| format!("{path}: {e}"))?
            } else {
                serde_json::from_str(&text)
                    .map_err(|e| format!("{path}:{}:{}: {e}", e.line(), e.column()))?
            };
            explain::TrustChoice::Config(config)
        }
        (None, audiences) if !audiences.is_empty() => {
            let kind = match a.one("kind")?.unwrap_or("id") {
                "id" => TokenKind::Id,
                "access" => TokenKind::Access,
                other => return Err(format!("--kind {other}: expected id or access")),
            };
            explain::TrustChoice::Audiences(audiences, kind)
        }
        _ => return Err("give either --trust FILE or --audience AUD".into()),
    };
    let now = match a.one("at")? {
        Some(at) => UnixTime(
            at.parse()
                .map_err(|_| format!("--at {at}: not a number of seconds"))?,
        ),
        None => UnixTime(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        ),
    };
    let answer = explain::explain(
        bundle,
        &explain::Question {
            token: token.trim(),
            jwks: &jwks,
            trust,
            method,
            target,
            now,
        },
    )?;
    print!("{}", answer.text);
    Ok(if answer.allowed { 0 } else { NO })
}

fn avp_export(args: &[String]) -> Result<u8, String> {
    let a = Args::parse(args, &[])?;
    a.only(&["dir", "out"])?;
    let dir = a.required("dir")?;
    let bundle = Bundle::load(&folder::read(Path::new(dir))?).map_err(|e| format!("{dir}: {e}"))?;
    let document = avp::export(&bundle)?;
    let text = serde_json::to_string_pretty(&document).map_err(|e| e.to_string())? + "\n";
    match a.one("out")? {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("{path}: cannot write: {e}"))?;
            println!("wrote {path}");
        }
        None => print!("{text}"),
    }
    Ok(0)
}

fn avp_import(args: &[String]) -> Result<u8, String> {
    let a = Args::parse(args, &["force"])?;
    a.only(&["store", "out", "resource-id"])?;
    let store = a.required("store")?;
    let imported = avp::import(
        store,
        &read(store)?,
        &avp::ImportOptions {
            resource_id: a.one("resource-id")?.map(str::to_owned),
        },
    )
    .map_err(|e| e.to_string())?;
    for note in &imported.notes {
        println!("note: {note}");
    }
    let written = folder::write(
        Path::new(a.required("out")?),
        &imported.source,
        a.switch("force"),
    )?;
    println!("wrote {}", shown(&written));
    Ok(0)
}
