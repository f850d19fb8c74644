//! # cedargate
//!
//! The authorization core shared by the cedargate edge worker and browser app: verified
//! OpenID Connect tokens become Cedar entities, requests become Cedar actions, and a
//! validated policy bundle decides.
//!
//! The crate performs no I/O and never reads a clock: keys are handed in as parsed JSON Web
//! Key Sets, the current time is a parameter, and signature checks go through a
//! [`SignatureBackend`] chosen by the caller (pure Rust natively, the platform's WebCrypto in
//! workerd and the browser). The same code therefore takes the same decision natively, in
//! the edge worker and in the browser.
//!
//! The pipeline, each step its own module, type and error:
//!
//! 1. token (`token`, `jwks`): [`Trust::parse`] applies the size limit, the compact
//!    structure, the header rules and the trusted-issuer check ([`UntrustedJwt`],
//!    [`TokenError`]).
//! 2. verification (`verifier`): [`Trust::verify`] selects the key from the issuer's
//!    [`KeySet`], checks the signature and the claims ([`VerifiedToken`]).
//! 3. principal (`trust`, `principal`): [`Trust::principal`] maps the claims to Cedar
//!    entities ([`Principal`], [`MappingError`]).
//! 4. route (`routes`, `actions`): [`Bundle::resolve`] maps method and path to an action
//!    ([`RouteMatch`], [`RouteError`]).
//! 5. decision (`decision`): [`Bundle::authorize`], the one decision point ([`Decision`]).
//!
//! The configuration of steps 1–3 is [`TrustConfig`] (`trust_config`); the bundle of steps
//! 4–5 is [`Bundle`] (`bundle`). [`Gate`] holds a bundle and the trust bound to it and runs
//! the pipeline in two calls, [`Gate::authenticate`] (keys supplied asynchronously by a
//! [`KeySource`]) and [`Gate::decide`]: it is what the edge worker, the browser app and the
//! policy tool keep and call.
//!
//! ## Features
//!
//! - `webcrypto`: `crypto::WebCrypto`, signature checks with the platform's WebCrypto
//!   (`crypto.subtle`); wasm32 only.
//! - `testing`: **for tests only, never for production builds.** The bundled PetStore
//!   example (`examples`) and `Trust::insecure_principal_from_claims`, which maps claims
//!   that nothing verified to a principal. The `cedargate-test-support` crate enables it.

mod actions;
pub mod assertion;
pub mod authzen;
mod base64url;
mod bundle;
pub mod canonical;
pub mod claim_path;
mod companion;
pub mod context;
pub mod crypto;
mod decision;
pub mod decision_table;
pub mod discovery;
#[cfg(feature = "testing")]
pub mod examples;
mod gate;
mod jwks;
pub mod percent;
mod principal;
mod routes;
mod schema_info;
pub mod sharing;
pub use schema_info::qualify;
pub mod introspection;
pub mod revocation;
mod signed_bundle;
mod strict_json;
mod time;
mod token;
mod trust;
mod trust_config;
pub mod url;
mod verifier;
pub mod wire;

pub use actions::ANONYMOUS_TYPE;
pub use bundle::{
    ANONYMOUS_ID, POLICIES_FILE, REQUIRED_SCOPES_ANNOTATION, ROUTES_FILE, SCHEMA_FILE,
    is_scope_token,
};
pub use bundle::{
    Bundle, BundleError, BundleSource, BundleVersion, CompiledBundle, PolicyEntry, RouteEntry,
    StepUp,
};
pub use companion::CompanionError;
pub use context::{ContextConfig, ContextError, ContextNeeds, RequestValues, TokenValue};
pub use crypto::RustCrypto;
pub use crypto::{SignatureBackend, SignatureCheck, SignatureError};
pub use decision::{ActionDecision, Decision, Outcome};
pub use gate::{
    AuthError, Credentials, DecisionKey, Gate, GateError, IssuerKeys, KeySource, Reliance, Verdict,
};
pub use jwks::{
    Algorithm, JwksError, KeySet, MAX_JWKS_BYTES, MAX_RSA_BITS, MIN_RSA_BITS, SkippedKey,
    VerificationKey,
};
pub use principal::{Principal, PrincipalShape};
pub use routes::{ANY_METHODS, MAX_PATH_BYTES, PathError, RouteError, RouteMatch};
pub use signed_bundle::{
    BundleDocument, BundleDocumentError, BundleKeyError, BundlePublicKey, BundleSigningKey,
    BundleSlot, MAX_BUNDLE_AUDIENCE_BYTES, SIGNED_BUNDLE_TYPE, check_bundle_audience,
    open_bundle_document, open_bundle_document_for, open_bundle_document_for_slot,
};
pub use time::UnixTime;
pub use token::{TokenError, TokenErrorKind, TokenKind, UntrustedJwt, VerifiedToken};
pub use trust::{
    HypotheticalPrincipal, MAX_WHAT_IF_VALUE_BYTES, MappingError, SetClaim, Trust, WhatIfError,
};
pub use trust_config::{
    Caller, ClaimAttribute, ClaimType, CompanionConfig, CompanionSources, ConfigError,
    DEFAULT_ACCESS_TOKEN_HEADER, DEFAULT_ID_TOKEN_HEADER, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES,
    IssuerConfig, MAX_LEEWAY, TrustConfig,
};
pub use verifier::Verifier;
