//! Compiles the policy bundle into the worker. The folder is `CEDARGATE_POLICY_DIR` (default
//! `policies/petstore` at the workspace root); it is validated here, so a bundle with any
//! error fails the build with the error's file, line and column. The worker gets its
//! compiled form and the version it was validated as (`CEDARGATE_BUNDLE_VERSION`), and loads
//! it with `Bundle::load_compiled_validated_as`: no Cedar text is parsed and nothing is
//! validated again on a new isolate. A folder with `entities.json`
//! (entity data) and `authzen.json` (the AuthZEN type mapping) compiles both in, for the
//! worker's AuthZEN endpoints; they are validated here too.

use cedargate::authzen::{ENTITIES_FILE, MAPPING_FILE, Pdp};
use cedargate::{Bundle, BundleSource, POLICIES_FILE, ROUTES_FILE, SCHEMA_FILE};
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=CEDARGATE_POLICY_DIR");
    println!("cargo:rerun-if-env-changed=CEDARGATE_BUNDLE_SERIAL");
    let serial = std::env::var("CEDARGATE_BUNDLE_SERIAL").unwrap_or_else(|_| "0".into());
    if serial.parse::<u64>().is_err() {
        fail(&format!("CEDARGATE_BUNDLE_SERIAL {serial} is not a number"));
    }
    println!("cargo:rustc-env=CEDARGATE_BUNDLE_SERIAL={serial}");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = match std::env::var("CEDARGATE_POLICY_DIR") {
        Ok(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Ok(dir) => manifest.join("..").join(dir),
        Err(_) => manifest.join("../policies/petstore"),
    };
    let read = |name: &str| -> String {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        std::fs::read_to_string(&path).unwrap_or_else(|err| {
            fail(&format!("cannot read {}: {err}", path.display()));
        })
    };
    let source = BundleSource {
        schema: read(SCHEMA_FILE),
        policies: read(POLICIES_FILE),
        routes: read(ROUTES_FILE),
    };
    let optional = |name: &str| -> Option<String> {
        let path = dir.join(name);
        println!("cargo:rerun-if-changed={}", path.display());
        path.is_file().then(|| read(name))
    };
    let entities = optional(ENTITIES_FILE);
    let mapping = optional(MAPPING_FILE);
    let invalid = |err: &dyn std::fmt::Display| -> ! {
        fail(&format!(
            "policy bundle {} is invalid: {err}",
            dir.display()
        ));
    };
    let bundle = match &entities {
        Some(entities) => Bundle::load_with_entities(&source, entities),
        None => Bundle::load(&source),
    }
    .unwrap_or_else(|err| invalid(&err));
    if let Some(mapping) = &mapping
        && let Err(err) = Pdp::new(bundle.clone(), mapping)
    {
        invalid(&format_args!("{MAPPING_FILE}: {err}"));
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    // The compiled form (Cedar's JSON forms), validated just now: the worker loads it as
    // the bundle of this version without parsing Cedar text or validating it again.
    let json =
        serde_json::to_string(bundle.compiled()).unwrap_or_else(|err| fail(&err.to_string()));
    std::fs::write(out.join("bundle.json"), json)
        .unwrap_or_else(|err| fail(&format!("cannot write the bundle: {err}")));
    let authzen = serde_json::json!({ "entities": entities, "mapping": mapping }).to_string();
    std::fs::write(out.join("authzen.json"), authzen)
        .unwrap_or_else(|err| fail(&format!("cannot write the entity data: {err}")));
    println!(
        "cargo:rustc-env=CEDARGATE_BUNDLE_VERSION={}",
        bundle.version()
    );
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
