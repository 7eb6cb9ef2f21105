//! A job as an SQS message body: JSON, or gzipped JSON when too large.
//! Kept apart from the SQS client so that the process function, which only
//! reads bodies from its events, does not link the SQS SDK.

use std::io::{Read, Write};

use base64::Engine;
use flate2::{read::GzDecoder, write::GzEncoder, Compression};

use accueil_core::ports::{Job, QueueError};

/// SQS refuses bodies over 256 KiB; larger jobs (a quarantined payload near
/// the 1 MiB webhook limit) travel gzipped, marked by this prefix, which a
/// JSON body can never start with.
const GZIP_PREFIX: &str = "gz:";
const PLAIN_LIMIT: usize = 200 * 1024;
const SQS_LIMIT: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the record's body is not a job: {0}")]
    NotAJob(String),
}

/// The SQS body of a job.
pub fn encode(job: &Job) -> Result<String, QueueError> {
    let json = serde_json::to_string(job).expect("jobs serialize");
    if json.len() <= PLAIN_LIMIT {
        return Ok(json);
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(json.as_bytes()).expect("writing to memory");
    let zipped = gz.finish().expect("writing to memory");
    let body = format!(
        "{GZIP_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(zipped)
    );
    if body.len() > SQS_LIMIT {
        return Err(QueueError(format!(
            "a job of {} bytes is too large for SQS",
            json.len()
        )));
    }
    Ok(body)
}

pub fn decode(body: &str) -> Result<Job, DecodeError> {
    let json = match body.strip_prefix(GZIP_PREFIX) {
        None => body.to_string(),
        Some(b64) => {
            let zipped = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| DecodeError::NotAJob(e.to_string()))?;
            let mut json = String::new();
            GzDecoder::new(&zipped[..])
                .read_to_string(&mut json)
                .map_err(|e| DecodeError::NotAJob(e.to_string()))?;
            json
        }
    };
    serde_json::from_str(&json).map_err(|e| DecodeError::NotAJob(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accueil_core::domain::{Channel, Quarantined};

    #[test]
    fn small_jobs_are_plain_json_and_large_ones_round_trip_gzipped() {
        let small = Job::Quarantine(Quarantined::new(
            Channel::Whatsapp,
            chrono::Utc::now(),
            "x".into(),
            b"{}",
        ));
        assert!(encode(&small).unwrap().starts_with('{'));
        assert_eq!(decode(&encode(&small).unwrap()).unwrap(), small);

        let payload = format!("{{\"entry\":\"{}\"}}", "ab".repeat(400 * 1024));
        let large = Job::Quarantine(Quarantined::new(
            Channel::Whatsapp,
            chrono::Utc::now(),
            "x".into(),
            payload.as_bytes(),
        ));
        let body = encode(&large).unwrap();
        assert!(body.starts_with(GZIP_PREFIX) && body.len() < SQS_LIMIT);
        assert_eq!(decode(&body).unwrap(), large);
    }

    #[test]
    fn a_body_that_is_not_a_job_is_an_error() {
        assert!(decode("{\"job\":\"nonsense\"}").is_err());
        assert!(decode("gz:!!!").is_err());
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        /// Cases per property, as in core's `never_panic` tests.
        const CASES: u32 = 512;

        fn sample_body() -> String {
            encode(&Job::Quarantine(Quarantined::new(
                Channel::Telegram,
                "2026-01-01T00:00:00Z".parse().unwrap(),
                "not JSON".into(),
                b"%PDF-1.7",
            )))
            .unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

            #[test]
            fn any_record_body_decodes_or_is_refused(body in ".{0,300}") {
                let _ = decode(&body);
                let _ = decode(&format!("{GZIP_PREFIX}{body}"));
            }

            #[test]
            fn any_gzip_payload_decodes_or_is_refused(
                bytes in proptest::collection::vec(any::<u8>(), 0..300),
            ) {
                let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
                let _ = decode(&format!("{GZIP_PREFIX}{b64}"));
            }

            #[test]
            fn a_mutated_job_decodes_or_is_refused(at in any::<usize>(), with in any::<char>()) {
                let mut body: Vec<char> = sample_body().chars().collect();
                let i = at % body.len();
                body[i] = with;
                let body: String = body.into_iter().collect();
                if let Ok(job) = decode(&body) {
                    // What decodes is a job again, whole.
                    prop_assert_eq!(decode(&encode(&job).unwrap()).unwrap(), job);
                }
            }
        }
    }
}
