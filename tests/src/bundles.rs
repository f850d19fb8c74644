//! Bundle documents for a worker's KV namespace, compiled as `cedargate bundle` writes them:
//! the PetStore example with more Cedar text, and signing keys made for one run. The workerd suite's staged bundle, the soak and the
//! bench write their live and staged entries with these.

use cedargate::{BundleDocument, BundleSigningKey, BundleSlot, BundleSource};

/// The PetStore example bundle with `policies` (Cedar text, e.g. a `forbid`) after its own.
pub fn petstore_with(policies: &str) -> BundleSource {
    let petstore = cedargate::examples::petstore_source();
    BundleSource {
        policies: format!("{}\n{policies}\n", petstore.policies),
        ..petstore
    }
}

/// An Ed25519 signing key of this run alone: its seed is the SHA-256 of `tag`, the process
/// id and the time.
pub fn run_key(tag: &str) -> Result<BundleSigningKey, String> {
    use sha2::Digest as _;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed: [u8; 32] =
        sha2::Sha256::digest(format!("{tag}-{}-{nanos}", std::process::id())).into();
    BundleSigningKey::from_seed(seed).map_err(|e| e.to_string())
}

/// `source` as the document with `serial` for the deployment `audience` and `slot` (live or
/// staged), compiled and signed with `key`: what `cedargate bundle [--stage]` writes.
pub fn signed(
    key: &BundleSigningKey,
    source: BundleSource,
    serial: u64,
    audience: &str,
    slot: BundleSlot,
) -> Result<String, String> {
    let document = compiled(
        BundleDocument::new(source, serial)
            .with_audience(audience)
            .with_slot(slot),
    )?;
    key.sign(&document).map_err(|e| e.to_string())
}

/// `document` in compiled form ([`BundleDocument::compile`]: validated, its text replaced by
/// the bundle's compiled form), the only form the worker reads.
pub fn compiled(document: BundleDocument) -> Result<BundleDocument, String> {
    document.compile().map_err(|e| e.to_string())
}

/// The unsigned JSON of `document` in compiled form: what `cedargate bundle` writes without
/// a key.
pub fn compiled_json(document: BundleDocument) -> Result<String, String> {
    serde_json::to_string(&compiled(document)?).map_err(|e| e.to_string())
}
