//! Meta's webhook signature (WhatsApp, Messenger, Instagram):
//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
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
/// Keyed once with the app secret; each check works on a copy.
#[derive(Clone)]
pub struct MetaSignature {
    keyed: Hmac<Sha256>,
}

impl MetaSignature {
    pub fn new(app_secret: &str) -> Self {
        MetaSignature {
            keyed: Hmac::new_from_slice(app_secret.as_bytes())
                .expect("HMAC takes keys of any length"),
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
        let mut mac = self.keyed.clone();
        mac.update(body);
        // Constant time: how much of a forged signature matched never shows.
        mac.verify_slice(&given)
            .map_err(|_| SignatureError::Mismatch)
    }

    /// The header value Meta would send for this body.
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(body);
        format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
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

    #[test]
    fn an_empty_header_an_empty_signature_and_non_hex_digits_are_refused() {
        let v = MetaSignature::new(SECRET);
        let body = ESCAPED_BODY.as_bytes();
        for header in ["", "sha256=", "sha256", &EXPECTED.replace('0', "g")] {
            assert_eq!(
                v.verify(Some(header), body),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn a_changed_body_or_an_appended_byte_does_not_verify() {
        let v = MetaSignature::new(SECRET);
        let mut body = ESCAPED_BODY.as_bytes().to_vec();
        body.push(b' ');
        assert_eq!(
            v.verify(Some(EXPECTED), &body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(v.verify(Some(EXPECTED), b""), Err(SignatureError::Mismatch));
    }

    #[test]
    fn surrounding_whitespace_and_uppercase_hex_are_the_same_signature() {
        let v = MetaSignature::new(SECRET);
        let body = ESCAPED_BODY.as_bytes();
        let upper = format!("sha256={}", EXPECTED[7..].to_uppercase());
        for header in [format!(" {EXPECTED}\t"), upper] {
            assert_eq!(v.verify(Some(&header), body), Ok(()), "{header:?}");
        }
    }

    #[test]
    fn one_verifier_checks_many_bodies_without_carrying_state_between_them() {
        let v = MetaSignature::new("s1");
        let (a, b) = (b"first".as_slice(), b"second".as_slice());
        let (sig_a, sig_b) = (v.sign(a), v.sign(b));
        for _ in 0..2 {
            assert_eq!(v.verify(Some(&sig_a), a), Ok(()));
            assert_eq!(v.verify(Some(&sig_b), b), Ok(()));
            assert_eq!(v.verify(Some(&sig_a), b), Err(SignatureError::Mismatch));
        }
    }
}
