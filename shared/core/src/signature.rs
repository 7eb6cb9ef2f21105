//! Meta's webhook signature (WhatsApp, Messenger, Instagram):
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use thiserror::Error;

pub const META_SIGNATURE_HEADER: &str = "x-hub-signature-256";
const PREFIX: &str = "sha256=";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the signature header is missing")]
    Missing,
    #[error("the signature header is not sha256=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Verifies Meta's signature over the raw bytes as received: never over
/// re-serialized JSON, whose escaping would differ from what Meta signed.
pub struct MetaSignature<'a> {
    app_secret: &'a [u8],
}

impl<'a> MetaSignature<'a> {
    pub fn new(app_secret: &'a str) -> Self {
        MetaSignature {
            app_secret: app_secret.as_bytes(),
        }
    }

    pub fn verify(&self, header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let hex_sig = header
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SignatureError::Malformed)?;
        if hex_sig.len() != 64 {
            return Err(SignatureError::Malformed);
        }
        let given = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
        let expected = self.digest(body);
        if bool::from(expected.ct_eq(&given[..])) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// The header value Meta would send for this body.
    pub fn sign(&self, body: &[u8]) -> String {
        format!("{PREFIX}{}", hex::encode(self.digest(body)))
    }

    fn digest(&self, body: &[u8]) -> Vec<u8> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.app_secret).expect("HMAC takes keys of any length");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // whatsapp-api-js's vector: Meta signs the payload with non-ASCII escaped as \uXXXX.
    const SECRET: &str = "YOUR_APP_SECRET";
    const ESCAPED_BODY: &str = "Let's pretend this body is equal to the message object and can handle unicode characters like \\u307f\\u3069\\u308a\\u3044\\u308d and J'ai mang\\u00e9 des p\\u00e2tes";
    const EXPECTED: &str =
        "sha256=0363007aabdf1ab579f35936651a460fb5fa1aaf40df98b1264446b72cc96688";

    #[test]
    fn a_published_vector_verifies_over_the_raw_bytes() {
        let v = MetaSignature::new(SECRET);
        assert_eq!(v.sign(ESCAPED_BODY.as_bytes()), EXPECTED);
        assert_eq!(v.verify(Some(EXPECTED), ESCAPED_BODY.as_bytes()), Ok(()));
    }

    #[test]
    fn the_unescaped_body_does_not_verify() {
        let unescaped = "Let's pretend this body is equal to the message object and can handle unicode characters like みどりいろ and J'ai mangé des pâtes";
        let v = MetaSignature::new(SECRET);
        assert_eq!(
            v.verify(Some(EXPECTED), unescaped.as_bytes()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn sign_then_verify_round_trips_and_a_wrong_secret_fails() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let header = MetaSignature::new("s1").sign(body);
        assert_eq!(MetaSignature::new("s1").verify(Some(&header), body), Ok(()));
        assert_eq!(
            MetaSignature::new("s2").verify(Some(&header), body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_malformed_and_truncated_headers_are_refused() {
        let v = MetaSignature::new(SECRET);
        let body = ESCAPED_BODY.as_bytes();
        assert_eq!(v.verify(None, body), Err(SignatureError::Missing));
        assert_eq!(
            v.verify(Some("sha256=wrong"), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            v.verify(Some(&EXPECTED[..EXPECTED.len() - 2]), body),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            v.verify(Some(&EXPECTED.replace("sha256=", "sha1=")), body),
            Err(SignatureError::Malformed)
        );
        let mut flipped = EXPECTED.to_string();
        flipped.replace_range(EXPECTED.len() - 1.., "7");
        assert_eq!(
            v.verify(Some(&flipped), body),
            Err(SignatureError::Mismatch)
        );
    }
}
