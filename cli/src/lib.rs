//! The `cedargate` command-line tool's library: OpenAPI documents to policy folders
//! ([`generate`]), folder checks ([`check`]), API drift ([`diff`]), offline decisions
//! ([`explain`]), decisions compared between a live and a staged bundle
//! ([`diff_decisions`]) Amazon Verified Permissions policy stores ([`avp`]) and PingOne Authorize API services
//! ([`pingone`]).
//!
//! A policy folder holds `schema.cedarschema`, `policies.cedar` and `routes.json`: what the
//! edge worker compiles in (`CEDARGATE_POLICY_DIR`) or loads from KV.

pub mod avp;
pub mod check;
pub mod diff;
pub mod diff_decisions;
pub mod doc;
pub mod explain;
pub mod folder;
pub mod generate;
pub mod openapi;
pub mod pingone;
