//! Bundle documents as the edge reads them from KV: a serial that only grows, and an Ed25519
//! signature by the publisher.
//!
//! A document is the JSON of a [`BundleDocument`] (the bundle's text, `schema`, `policies`
//! and `routes`, or its compiled form, `compiled`; `serial`, `entities` for a bundle with
//! entity data, and `audience`, the deployment it is for),
//! or that JSON signed: a JWS in the flattened JSON serialization (RFC 7515 §7.2.2) with
//! `alg` `EdDSA` and `typ` [`SIGNED_BUNDLE_TYPE`], whose payload is the bundle JSON. The
//! publisher signs after the policy tool has validated the folder; the edge verifies the
//! signature before it parses anything of the payload, then the audience
//! ([`open_bundle_document_for`]: a document signed for one deployment is refused by another
//! that trusts the same key), then the slot ([`BundleSlot`]: a staged candidate is never read
//! as the live bundle, nor the live one as the candidate), and takes a bundle only when its
//! serial is higher than the one in force.

use crate::bundle::{Bundle, BundleError, BundleSource, CompiledBundle};
use crate::strict_json;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A bundle with its serial, as published: its text (`schema`, `policies`, `routes`), or
/// its compiled form (`compiled`, what `cedargate bundle` writes), never both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleDocument {
    /// Cedar schema, human-readable syntax (a text document; empty in a compiled one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schema: String,
    /// Cedar policies (a text document; empty in a compiled one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policies: String,
    /// The route table, JSON (a text document; empty in a compiled one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub routes: String,
    /// The bundle's compiled form ([`Bundle::compiled`]: Cedar's JSON forms, the routes
    /// bound to the schema, each policy's text to show), in place of the text. It loads
    /// without parsing Cedar text ([`Bundle::load_compiled`]) and is validated as it loads,
    /// like a text document. [`BundleDocument::compile`] makes one from a text document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiled: Option<CompiledBundle>,
    /// The publisher's serial: a worker takes a document only when its serial is higher than
    /// the one of the bundle in force (the built-in bundle has serial 0 unless built with
    /// `CEDARGATE_BUNDLE_SERIAL`). Required.
    pub serial: u64,
    /// The text of the bundle's entity data (`entities.json`,
    /// [`crate::Bundle::load_with_entities`]), when it has any: it comes and goes with the
    /// bundle, under the same serial and signature, and counts for its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<String>,
    /// The deployment the document is for (`cedargate bundle --audience`), inside what is
    /// signed: a worker configured with another audience refuses it
    /// ([`open_bundle_document_for`]), so one publisher key can serve staging and production
    /// without a staging document being replayed into production. See
    /// [`check_bundle_audience`] for what a name may be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// The KV entry the document is for, inside what is signed: the bundle in force (`live`,
    /// what a document without the member is, so documents written before it keep their
    /// meaning, their bytes and their signatures), or a candidate decided beside it
    /// (`staged`, `cedargate bundle --stage`). A worker reading one entry refuses a document
    /// for the other ([`open_bundle_document_for_slot`]), so a staged candidate copied to the
    /// live entry is not taken; `cedargate promote` makes it live with a new serial.
    #[serde(default, skip_serializing_if = "is_live")]
    pub slot: BundleSlot,
}

/// Which of a deployment's KV entries a bundle document is for (see
/// [`BundleDocument::slot`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundleSlot {
    /// The bundle in force, which answers requests.
    #[default]
    Live,
    /// A candidate, decided beside the live bundle and never in its place.
    Staged,
}

impl BundleSlot {
    /// `live` or `staged`, as the document says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Staged => "staged",
        }
    }
}

/// Whether a document's `slot` is left out: live, as a document without it.
fn is_live(slot: &BundleSlot) -> bool {
    *slot == BundleSlot::Live
}

impl fmt::Display for BundleSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest audience name, in bytes.
pub const MAX_BUNDLE_AUDIENCE_BYTES: usize = 128;

/// Whether `name` may be a bundle document's audience: 1 to [`MAX_BUNDLE_AUDIENCE_BYTES`]
/// bytes of printable ASCII without spaces, quotes or backslashes (`production`,
/// `eu-west/staging`, `https://api.example.com`).
pub fn check_bundle_audience(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_BUNDLE_AUDIENCE_BYTES {
        return Err(format!(
            "an audience is 1 to {MAX_BUNDLE_AUDIENCE_BYTES} bytes, not {}",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return Err(format!(
            "\"{}\" is not printable ASCII without spaces, quotes or backslashes",
            name.escape_debug()
        ));
    }
    Ok(())
}

impl BundleDocument {
    /// The text document of `source` with `serial`, without entity data.
    pub fn new(source: BundleSource, serial: u64) -> Self {
        Self {
            schema: source.schema,
            policies: source.policies,
            routes: source.routes,
            compiled: None,
            serial,
            entities: None,
            audience: None,
            slot: BundleSlot::Live,
        }
    }

    /// The same document for the KV entry `slot` (see [`BundleDocument::slot`]).
    pub fn with_slot(mut self, slot: BundleSlot) -> Self {
        self.slot = slot;
        self
    }

    /// The same document for the deployment `audience` (see [`BundleDocument::audience`]).
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The same document with the text of its entity data.
    pub fn with_entities(mut self, entities: impl Into<String>) -> Self {
        self.entities = Some(entities.into());
        self
    }

    /// The same document in compiled form: the text loaded and validated (with the entity
    /// data), then replaced by the bundle's compiled form; the serial, entity data, audience
    /// and slot stay. A compiled document is returned as it is. The bundle it holds has the
    /// same version either way.
    pub fn compile(self) -> Result<Self, BundleError> {
        if self.compiled.is_some() {
            return Ok(self);
        }
        let bundle = self.load()?;
        Ok(Self {
            schema: String::new(),
            policies: String::new(),
            routes: String::new(),
            compiled: Some(bundle.compiled().clone()),
            ..self
        })
    }

    /// Whether it holds the compiled form rather than the text.
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// The bundle it holds, validated, with its entity data when it has any: from the text
    /// ([`Bundle::load`]) or from the compiled form ([`Bundle::load_compiled`]). A document
    /// with both, or with a compiled form and any text, is refused.
    pub fn load(&self) -> Result<Bundle, BundleError> {
        match self.source() {
            Some(source) => match &self.entities {
                Some(entities) => Bundle::load_with_entities(&source, entities),
                None => Bundle::load(&source),
            },
            None => self.load_compiled(),
        }
    }

    /// The bundle of a compiled document, validated as it loads ([`Bundle::load_compiled`]),
    /// with its entity data; a text document is refused. What a program that links no
    /// Cedar text parser (the edge worker) loads documents with.
    pub fn load_compiled(&self) -> Result<Bundle, BundleError> {
        let compiled = self.compiled_form()?;
        Bundle::load_compiled(compiled, self.entities.as_deref())
    }

    fn compiled_form(&self) -> Result<&CompiledBundle, BundleError> {
        match &self.compiled {
            Some(_) if self.has_text() => Err(BundleError::Compiled(
                "a bundle document holds its text (schema, policies, routes) or its compiled form, not both".into(),
            )),
            Some(compiled) => Ok(compiled),
            None => Err(BundleError::Compiled(
                "the bundle document is text (schema, policies, routes), not its compiled form: publish it with `cedargate bundle`".into(),
            )),
        }
    }

    fn has_text(&self) -> bool {
        !(self.schema.is_empty() && self.policies.is_empty() && self.routes.is_empty())
    }

    /// The bundle's text; `None` for a compiled document.
    pub fn source(&self) -> Option<BundleSource> {
        self.compiled.is_none().then(|| BundleSource {
            schema: self.schema.clone(),
            policies: self.policies.clone(),
            routes: self.routes.clone(),
        })
    }
}

/// The `typ` of a signed bundle document's protected header.
pub const SIGNED_BUNDLE_TYPE: &str = "cedargate-bundle+json";

/// Why a bundle document was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleDocumentError {
    /// Not JSON of either shape.
    #[error("not a bundle document: {0}")]
    Shape(String),
    /// A public key is configured and the document is not signed.
    #[error("bundle document is not signed")]
    Unsigned,
    /// The document is signed but no public key is configured to check it.
    #[error("bundle document is signed but no public key is configured")]
    NoKey,
    /// The protected header is not `{"alg":"EdDSA","typ":"cedargate-bundle+json"}`.
    #[error("signed bundle header is not accepted: {0}")]
    Header(&'static str),
    /// The signature does not verify with the configured key.
    #[error("bundle signature is invalid")]
    BadSignature,
    /// The document is for another deployment than the configured audience, or names none.
    #[error("bundle document {}, not \"{expected}\"", match found {
        Some(found) => format!("is for audience \"{found}\""),
        None => "names no audience".to_owned(),
    })]
    Audience {
        /// The configured audience.
        expected: String,
        /// The document's.
        found: Option<String>,
    },
    /// A public key is configured without an audience: a signed document would be taken
    /// whatever deployment it was signed for.
    #[error("a bundle public key is configured without an audience")]
    NoAudience,
    /// The document is for the other KV entry: a staged candidate read as the live bundle,
    /// or the live bundle read as the staged candidate.
    #[error("bundle document is {found}, read as {expected}")]
    Slot {
        /// The slot being read.
        expected: BundleSlot,
        /// The document's.
        found: BundleSlot,
    },
}

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleKeyError {
    /// Not base64url of the right length.
    #[error("key must be {0} bytes in unpadded base64url")]
    Encoding(usize),
}

/// The publisher's Ed25519 public key (32 bytes, unpadded base64url in configuration).
#[derive(Clone, PartialEq, Eq)]
pub struct BundlePublicKey(ed25519_compact::PublicKey);

impl BundlePublicKey {
    /// Reads a key from unpadded base64url.
    pub fn from_base64url(text: &str) -> Result<Self, BundleKeyError> {
        let bytes =
            Base64UrlUnpadded::decode_vec(text.trim()).map_err(|_| BundleKeyError::Encoding(32))?;
        ed25519_compact::PublicKey::from_slice(&bytes)
            .map(Self)
            .map_err(|_| BundleKeyError::Encoding(32))
    }

    /// Unpadded base64url.
    pub fn to_base64url(&self) -> String {
        Base64UrlUnpadded::encode_string(self.0.as_ref())
    }
}

impl fmt::Debug for BundlePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BundlePublicKey({})", self.to_base64url())
    }
}

/// The publisher's Ed25519 signing key: a 32-byte seed, unpadded base64url in its file.
/// Never in the repository or the worker; `Debug` shows nothing of it.
pub struct BundleSigningKey(ed25519_compact::KeyPair);

impl BundleSigningKey {
    /// A key from a 32-byte seed (from a CSPRNG).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, BundleKeyError> {
        ed25519_compact::KeyPair::try_from_seed(ed25519_compact::Seed::new(seed))
            .map(Self)
            .map_err(|_| BundleKeyError::Encoding(32))
    }

    /// Reads a seed from unpadded base64url.
    pub fn from_base64url(text: &str) -> Result<Self, BundleKeyError> {
        let bytes =
            Base64UrlUnpadded::decode_vec(text.trim()).map_err(|_| BundleKeyError::Encoding(32))?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| BundleKeyError::Encoding(32))?;
        Self::from_seed(seed)
    }

    /// The seed as unpadded base64url, for the key file.
    pub fn to_base64url(&self) -> String {
        Base64UrlUnpadded::encode_string(self.0.sk.seed().as_ref())
    }

    /// The public half, for the worker's configuration.
    pub fn public_key(&self) -> BundlePublicKey {
        BundlePublicKey(self.0.pk)
    }

    /// The signed document (Ed25519 signatures are deterministic).
    pub fn sign(&self, source: &BundleDocument) -> Result<String, serde_json::Error> {
        let payload = Base64UrlUnpadded::encode_string(serde_json::to_string(source)?.as_bytes());
        let protected = Base64UrlUnpadded::encode_string(
            serde_json::json!({ "alg": "EdDSA", "typ": SIGNED_BUNDLE_TYPE })
                .to_string()
                .as_bytes(),
        );
        let signature = self
            .0
            .sk
            .sign(format!("{protected}.{payload}").as_bytes(), None);
        Ok(serde_json::json!({
            "protected": protected,
            "payload": payload,
            "signature": Base64UrlUnpadded::encode_string(signature.as_ref()),
        })
        .to_string())
    }
}

impl fmt::Debug for BundleSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BundleSigningKey(..)")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    protected: String,
    payload: String,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Protected {
    alg: String,
    typ: String,
}

/// Reads the live bundle document of a deployment:
/// [`open_bundle_document_for_slot`] for [`BundleSlot::Live`], so a staged candidate is
/// refused ([`BundleDocumentError::Slot`]).
pub fn open_bundle_document_for(
    text: &str,
    key: Option<&BundlePublicKey>,
    audience: Option<&str>,
) -> Result<BundleDocument, BundleDocumentError> {
    open_bundle_document_for_slot(text, key, audience, BundleSlot::Live)
}

/// Reads the bundle document of one KV entry of a deployment: [`open_bundle_document`], then
/// the document's `audience` must be `audience` exactly (a document for another deployment,
/// or for none, is refused), then its `slot` must be `slot` (a staged candidate is not the
/// live bundle, nor the live bundle a candidate). With `key`, an `audience` is required: a
/// signed document is never taken unbound. Without a key, an `audience` given is checked as
/// well, and without either the audience is not. The signature is checked before anything
/// of the payload is read. The serial is the caller's to compare with the one in force, for
/// either slot.
pub fn open_bundle_document_for_slot(
    text: &str,
    key: Option<&BundlePublicKey>,
    audience: Option<&str>,
    slot: BundleSlot,
) -> Result<BundleDocument, BundleDocumentError> {
    if key.is_some() && audience.is_none() {
        return Err(BundleDocumentError::NoAudience);
    }
    let document = open_bundle_document(text, key)?;
    match audience {
        Some(expected) if document.audience.as_deref() != Some(expected) => {
            return Err(BundleDocumentError::Audience {
                expected: expected.to_owned(),
                found: document.audience,
            });
        }
        _ => {}
    }
    if document.slot != slot {
        return Err(BundleDocumentError::Slot {
            expected: slot,
            found: document.slot,
        });
    }
    Ok(document)
}

/// Reads a bundle document. With `key`, only a document signed by it is taken; without, only
/// an unsigned one (a signature nobody checks would mean nothing). Duplicate JSON members are
/// refused in every part. Validation of the bundle itself is [`crate::Bundle::load`]'s.
///
/// The document's `audience` and `slot` are not checked here: a worker calls
/// [`open_bundle_document_for`] (or [`open_bundle_document_for_slot`]) with its configured
/// audience.
pub fn open_bundle_document(
    text: &str,
    key: Option<&BundlePublicKey>,
) -> Result<BundleDocument, BundleDocumentError> {
    let shape = |e: String| BundleDocumentError::Shape(e);
    let value = strict_json::from_slice(text.as_bytes()).map_err(|e| shape(e.to_string()))?;
    let signed = value.get("payload").is_some() || value.get("signature").is_some();
    match (signed, key) {
        (false, Some(_)) => Err(BundleDocumentError::Unsigned),
        (true, None) => Err(BundleDocumentError::NoKey),
        (false, None) => serde_json::from_value(value).map_err(|e| shape(e.to_string())),
        (true, Some(key)) => {
            let envelope: Envelope =
                serde_json::from_value(value).map_err(|e| shape(e.to_string()))?;
            let decode = |part: &str| {
                Base64UrlUnpadded::decode_vec(part)
                    .map_err(|_| shape("a part is not unpadded base64url".into()))
            };
            let header_bytes = decode(&envelope.protected)?;
            let header_text = std::str::from_utf8(&header_bytes)
                .map_err(|_| BundleDocumentError::Header("not UTF-8"))?;
            let header = strict_json::from_slice(header_text.as_bytes())
                .map_err(|_| BundleDocumentError::Header("not JSON without duplicate members"))?;
            let header: Protected = serde_json::from_value(header)
                .map_err(|_| BundleDocumentError::Header("not {alg, typ}"))?;
            if header.alg != "EdDSA" {
                return Err(BundleDocumentError::Header("alg is not EdDSA"));
            }
            if header.typ != SIGNED_BUNDLE_TYPE {
                return Err(BundleDocumentError::Header(
                    "typ is not cedargate-bundle+json",
                ));
            }
            let signature = ed25519_compact::Signature::from_slice(&decode(&envelope.signature)?)
                .map_err(|_| BundleDocumentError::BadSignature)?;
            let input = format!("{}.{}", envelope.protected, envelope.payload);
            key.0
                .verify(input.as_bytes(), &signature)
                .map_err(|_| BundleDocumentError::BadSignature)?;
            let payload = decode(&envelope.payload)?;
            let payload = strict_json::from_slice(&payload).map_err(|e| shape(e.to_string()))?;
            serde_json::from_value(payload).map_err(|e| shape(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn source(serial: u64) -> BundleDocument {
        BundleDocument {
            schema: "s".into(),
            policies: "p".into(),
            routes: "r".into(),
            compiled: None,
            serial,
            entities: None,
            audience: None,
            slot: BundleSlot::Live,
        }
    }

    #[test]
    fn documents_without_a_serial_are_refused() {
        let old = r#"{"schema":"s","policies":"p","routes":"r"}"#;
        assert!(matches!(
            open_bundle_document(old, None),
            Err(BundleDocumentError::Shape(m)) if m.contains("serial")
        ));
    }

    fn key(byte: u8) -> BundleSigningKey {
        BundleSigningKey::from_seed([byte; 32]).unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn signed_documents_open_with_their_key_only() {
        let k = key(7);
        let doc = k.sign(&source(3)).unwrap_or_default();
        assert_eq!(
            open_bundle_document(&doc, Some(&k.public_key())),
            Ok(source(3))
        );
        assert_eq!(
            open_bundle_document(&doc, Some(&key(8).public_key())),
            Err(BundleDocumentError::BadSignature)
        );
        assert_eq!(
            open_bundle_document(&doc, None),
            Err(BundleDocumentError::NoKey)
        );
        let plain = serde_json::to_string(&source(3)).unwrap_or_default();
        assert_eq!(open_bundle_document(&plain, None), Ok(source(3)));
        assert_eq!(
            open_bundle_document(&plain, Some(&k.public_key())),
            Err(BundleDocumentError::Unsigned)
        );
    }

    #[test]
    fn entity_data_travels_under_the_signature_and_counts_for_the_version() {
        let source = BundleSource {
            schema: "namespace A { entity Role; entity User in [Role]; entity Api; \
                     action \"get /x\" appliesTo { principal: [User], resource: [Api] }; }"
                .into(),
            policies: "@id(\"admins\") permit (principal in A::Role::\"admin\", action, resource);"
                .into(),
            routes: r#"{"namespace": "A", "resource": {"type": "Api", "id": "api"}, "routes": ["get /x"]}"#
                .into(),
        };
        let data = r#"[{"uid": {"type": "A::Role", "id": "admin"}, "attrs": {}, "parents": []}]"#;
        let plain = BundleDocument::new(source.clone(), 2);
        let with = plain.clone().with_entities(data);
        let k = key(7);
        let opened =
            open_bundle_document(&k.sign(&with).unwrap_or_default(), Some(&k.public_key()));
        assert_eq!(opened.as_ref(), Ok(&with));
        let without = plain.load().unwrap_or_else(|_| unreachable!());
        let loaded = with.load().unwrap_or_else(|_| unreachable!());
        assert_eq!(loaded.entities_source(), Some(data));
        assert_ne!(loaded.version(), without.version());
        assert_eq!(loaded.text_version(), without.version());
        // A document without the member is one without entity data, as before.
        assert!(
            !serde_json::to_string(&plain)
                .unwrap_or_default()
                .contains("entities")
        );
        assert!(with.clone().with_entities("[{]").load().is_err());
    }

    #[test]
    fn tampered_documents_are_refused() {
        let k = key(7);
        let doc: serde_json::Value =
            serde_json::from_str(&k.sign(&source(3)).unwrap_or_default()).unwrap_or_default();
        let with = |field: &str, value: String| {
            let mut d = doc.clone();
            d[field] = serde_json::Value::String(value);
            d.to_string()
        };
        let other_payload = Base64UrlUnpadded::encode_string(
            serde_json::to_string(&source(9))
                .unwrap_or_default()
                .as_bytes(),
        );
        assert_eq!(
            open_bundle_document(&with("payload", other_payload), Some(&k.public_key())),
            Err(BundleDocumentError::BadSignature)
        );
        let none_header =
            Base64UrlUnpadded::encode_string(br#"{"alg":"none","typ":"cedargate-bundle+json"}"#);
        assert_eq!(
            open_bundle_document(&with("protected", none_header), Some(&k.public_key())),
            Err(BundleDocumentError::Header("alg is not EdDSA"))
        );
        assert!(matches!(
            open_bundle_document(
                r#"{"payload":"a","payload":"b","protected":"","signature":""}"#,
                Some(&k.public_key())
            ),
            Err(BundleDocumentError::Shape(_))
        ));
    }

    #[test]
    fn keys_round_trip_and_debug_shows_no_secret() {
        let k = key(5);
        let again =
            BundleSigningKey::from_base64url(&k.to_base64url()).unwrap_or_else(|_| unreachable!());
        assert_eq!(again.public_key(), k.public_key());
        assert_eq!(format!("{k:?}"), "BundleSigningKey(..)");
        assert_eq!(
            BundlePublicKey::from_base64url(&k.public_key().to_base64url()),
            Ok(k.public_key())
        );
        assert!(BundlePublicKey::from_base64url("abc").is_err());
    }
}
