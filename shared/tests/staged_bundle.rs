//! Staged bundle documents: a candidate for the staged KV entry is never read as the live
//! bundle, nor the live bundle as a candidate, and a staged document gets every check a live
//! one gets (signature first, serial inside it, audience).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64ct::{Base64UrlUnpadded, Encoding};
use cedargate::{
    BundleDocument, BundleDocumentError, BundleSigningKey, BundleSlot, BundleSource,
    open_bundle_document, open_bundle_document_for, open_bundle_document_for_slot,
};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const AUDIENCE: &str = "production";

fn petstore() -> BundleSource {
    cedargate::examples::petstore_source()
}

fn key(seed: u8) -> BundleSigningKey {
    BundleSigningKey::from_seed([seed; 32]).unwrap()
}

fn staged(serial: u64) -> BundleDocument {
    BundleDocument::new(petstore(), serial)
        .with_audience(AUDIENCE)
        .with_slot(BundleSlot::Staged)
}

fn live(serial: u64) -> BundleDocument {
    BundleDocument::new(petstore(), serial).with_audience(AUDIENCE)
}

/// The signed document's payload replaced by `document`'s JSON, the signature kept.
fn with_payload(signed: &str, document: &serde_json::Value) -> String {
    let mut envelope: serde_json::Value = serde_json::from_str(signed).unwrap();
    envelope["payload"] = Base64UrlUnpadded::encode_string(document.to_string().as_bytes()).into();
    envelope.to_string()
}

#[test]
fn a_staged_document_is_never_read_as_live() {
    let k = key(3);
    let public = k.public_key();
    let signed = k.sign(&staged(7)).unwrap();
    // A staged candidate copied to the live entry: refused, saying so.
    let err = open_bundle_document_for(&signed, Some(&public), Some(AUDIENCE)).unwrap_err();
    assert_eq!(
        err,
        BundleDocumentError::Slot {
            expected: BundleSlot::Live,
            found: BundleSlot::Staged,
        }
    );
    assert_eq!(err.to_string(), "bundle document is staged, read as live");
    assert_eq!(
        open_bundle_document_for_slot(&signed, Some(&public), Some(AUDIENCE), BundleSlot::Live),
        Err(err)
    );
    // Read as what it is, it opens.
    assert_eq!(
        open_bundle_document_for_slot(&signed, Some(&public), Some(AUDIENCE), BundleSlot::Staged),
        Ok(staged(7))
    );
    // Unsigned, for a worker without a key: the same.
    let plain = serde_json::to_string(&staged(7)).unwrap();
    assert!(plain.contains(r#""slot":"staged""#), "{plain}");
    for audience in [None, Some(AUDIENCE)] {
        assert!(matches!(
            open_bundle_document_for(&plain, None, audience),
            Err(BundleDocumentError::Slot {
                expected: BundleSlot::Live,
                found: BundleSlot::Staged
            })
        ));
    }
    // The slot is inside what is signed: the candidate's payload rewritten as live does not
    // verify.
    let mut as_live = serde_json::to_value(staged(7)).unwrap();
    as_live.as_object_mut().unwrap().remove("slot");
    assert_eq!(
        open_bundle_document_for(
            &with_payload(&signed, &as_live),
            Some(&public),
            Some(AUDIENCE)
        ),
        Err(BundleDocumentError::BadSignature)
    );
}

#[test]
fn a_live_document_is_never_read_as_staged() {
    let k = key(3);
    let public = k.public_key();
    let signed = k.sign(&live(7)).unwrap();
    let err =
        open_bundle_document_for_slot(&signed, Some(&public), Some(AUDIENCE), BundleSlot::Staged)
            .unwrap_err();
    assert_eq!(
        err,
        BundleDocumentError::Slot {
            expected: BundleSlot::Staged,
            found: BundleSlot::Live,
        }
    );
    assert_eq!(err.to_string(), "bundle document is live, read as staged");
    assert_eq!(
        open_bundle_document_for(&signed, Some(&public), Some(AUDIENCE)),
        Ok(live(7))
    );
    // A live document leaves the member out, so documents written before it have the same
    // bytes and signatures, and mean live; one that says "live" means the same.
    let plain = serde_json::to_string(&live(7)).unwrap();
    assert!(!plain.contains("slot"), "{plain}");
    let explicit = plain.replacen('{', r#"{"slot":"live","#, 1);
    assert_eq!(
        open_bundle_document_for(&explicit, None, Some(AUDIENCE)),
        Ok(live(7))
    );
    assert!(matches!(
        open_bundle_document_for_slot(&explicit, None, Some(AUDIENCE), BundleSlot::Staged),
        Err(BundleDocumentError::Slot { .. })
    ));
    // No third slot.
    let other = plain.replacen('{', r#"{"slot":"canary","#, 1);
    assert!(matches!(
        open_bundle_document(&other, None),
        Err(BundleDocumentError::Shape(_))
    ));
}

#[test]
fn a_staged_document_is_checked_as_a_live_one_is() {
    let k = key(3);
    let public = k.public_key();
    let read = |text: &str, audience: Option<&str>| {
        open_bundle_document_for_slot(text, Some(&public), audience, BundleSlot::Staged)
    };
    let signed = k.sign(&staged(7)).unwrap();
    assert_eq!(read(&signed, Some(AUDIENCE)), Ok(staged(7)));
    // Signature: another key's candidate is a bad signature, before its slot or audience is
    // read (also when it is read as live).
    let forged = key(4).sign(&staged(7)).unwrap();
    assert_eq!(
        read(&forged, Some(AUDIENCE)),
        Err(BundleDocumentError::BadSignature)
    );
    assert_eq!(
        open_bundle_document_for(&forged, Some(&public), Some(AUDIENCE)),
        Err(BundleDocumentError::BadSignature)
    );
    // Unsigned with a key configured, signed without one.
    let plain = serde_json::to_string(&staged(7)).unwrap();
    assert_eq!(
        read(&plain, Some(AUDIENCE)),
        Err(BundleDocumentError::Unsigned)
    );
    assert_eq!(
        open_bundle_document_for_slot(&signed, None, Some(AUDIENCE), BundleSlot::Staged),
        Err(BundleDocumentError::NoKey)
    );
    // Serial: required, and inside the signature (a candidate cannot be given a higher one).
    let mut no_serial = serde_json::to_value(staged(7)).unwrap();
    no_serial.as_object_mut().unwrap().remove("serial");
    assert!(matches!(
        open_bundle_document_for_slot(&no_serial.to_string(), None, None, BundleSlot::Staged),
        Err(BundleDocumentError::Shape(m)) if m.contains("serial")
    ));
    let higher = serde_json::to_value(staged(8)).unwrap();
    assert_eq!(
        read(&with_payload(&signed, &higher), Some(AUDIENCE)),
        Err(BundleDocumentError::BadSignature)
    );
    // Audience: another deployment's candidate, a candidate bound to none, a key without an
    // audience.
    let staging = k.sign(&staged(7).with_audience("staging")).unwrap();
    assert_eq!(
        read(&staging, Some(AUDIENCE)),
        Err(BundleDocumentError::Audience {
            expected: AUDIENCE.into(),
            found: Some("staging".into()),
        })
    );
    let unbound = k
        .sign(&BundleDocument::new(petstore(), 7).with_slot(BundleSlot::Staged))
        .unwrap();
    assert_eq!(
        read(&unbound, Some(AUDIENCE)),
        Err(BundleDocumentError::Audience {
            expected: AUDIENCE.into(),
            found: None,
        })
    );
    assert_eq!(read(&signed, None), Err(BundleDocumentError::NoAudience));
    // Duplicate members, in the envelope and in the payload.
    assert!(matches!(
        read(
            r#"{"payload":"a","payload":"b","protected":"","signature":""}"#,
            Some(AUDIENCE)
        ),
        Err(BundleDocumentError::Shape(_))
    ));
    let twice = plain.replacen('{', r#"{"slot":"live","#, 1);
    assert!(matches!(
        open_bundle_document_for_slot(&twice, None, None, BundleSlot::Staged),
        Err(BundleDocumentError::Shape(m)) if m.contains("duplicate")
    ));
}

#[test]
fn the_slot_does_not_change_the_bundle() {
    let staged = staged(7).load().unwrap();
    let live = live(9).load().unwrap();
    assert_eq!(staged.version(), live.version());
}
