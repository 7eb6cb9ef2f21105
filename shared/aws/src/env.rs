//! The environment of the Lambda functions. A missing variable stops the
//! cold start with a message naming it.

use thiserror::Error;

pub const TABLE: &str = "ACCUEIL_TABLE";
pub const QUEUE_URL: &str = "ACCUEIL_QUEUE_URL";
pub const CONFIG: &str = "ACCUEIL_CONFIG";
/// Optional: the dead-letter queue, whose depth the digest reports.
pub const DEAD_LETTER_QUEUE_URL: &str = "ACCUEIL_DLQ_URL";
/// Optional: the HTTP API's URL, where the digest's private links point
/// unless `[owner] public_url` says otherwise.
pub const PUBLIC_URL: &str = "ACCUEIL_PUBLIC_URL";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvError {
    #[error("the environment variable {0} is not set")]
    Missing(&'static str),
    #[error("the environment variable {0} is empty")]
    Empty(&'static str),
}

pub fn required(name: &'static str) -> Result<String, EnvError> {
    match std::env::var(name) {
        Err(_) => Err(EnvError::Missing(name)),
        Ok(v) if v.trim().is_empty() => Err(EnvError::Empty(name)),
        Ok(v) => Ok(v),
    }
}

pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named() {
        let e = required("ACCUEIL_TEST_SURELY_UNSET").map(|_| ());
        assert_eq!(e, Err(EnvError::Missing("ACCUEIL_TEST_SURELY_UNSET")));
        assert_eq!(
            EnvError::Missing("ACCUEIL_TABLE").to_string(),
            "the environment variable ACCUEIL_TABLE is not set"
        );
    }
}
