//! The business configuration on AWS: `ACCUEIL_CONFIG` holds the TOML, or
//! `ssm:/path` to a parameter holding it. Secrets written `ssm:/path` inside
//! it are read once, at cold start.

use std::collections::HashMap;
use std::sync::OnceLock;

use aws_config::SdkConfig;
use thiserror::Error;

use accueil_core::config::{Config, ConfigError, SecretSource};

use crate::describe;

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("reading SSM parameter {path}: {reason}")]
    Ssm { path: String, reason: String },
    #[error("configuration refused: {0}")]
    Config(#[from] ConfigError),
}

/// Reads SSM parameters (decrypted: secrets are SecureStrings). The client
/// is built at the first read: a configuration given inline needs none, and
/// building one costs a cold start time.
pub struct Ssm {
    sdk: SdkConfig,
    client: OnceLock<aws_sdk_ssm::Client>,
}

impl Ssm {
    pub fn new(sdk: &SdkConfig) -> Ssm {
        Ssm {
            sdk: sdk.clone(),
            client: OnceLock::new(),
        }
    }

    pub async fn parameter(&self, path: &str) -> Result<String, LoadError> {
        let ssm_error = |reason: String| LoadError::Ssm {
            path: path.to_string(),
            reason,
        };
        let out = self
            .client
            .get_or_init(|| aws_sdk_ssm::Client::new(&self.sdk))
            .get_parameter()
            .name(path)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| ssm_error(describe(&e)))?;
        out.parameter
            .and_then(|p| p.value)
            .ok_or_else(|| ssm_error("the parameter has no value".into()))
    }
}

/// Secrets fetched before parsing, since parsing itself is synchronous.
struct Fetched(HashMap<String, String>);

impl SecretSource for Fetched {
    fn ssm(&self, path: &str) -> Result<String, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| format!("ssm:{path} was not read"))
    }
}

/// Every `ssm:/…` string value in the TOML, wherever it sits.
fn ssm_paths(text: &str) -> Vec<String> {
    fn walk(value: &toml::Value, out: &mut Vec<String>) {
        match value {
            toml::Value::String(s) => {
                if let Some(path) = s.strip_prefix("ssm:") {
                    out.push(path.to_string());
                }
            }
            toml::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            toml::Value::Table(t) => t.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    // Most files name no SSM secret: spare them a second parse at cold start.
    if !text.contains("ssm:") {
        return out;
    }
    if let Ok(table) = text.parse::<toml::Table>() {
        table.values().for_each(|v| walk(v, &mut out));
    }
    out
}

/// Loads the configuration named by `ACCUEIL_CONFIG`'s value.
pub async fn load(value: &str, ssm: &Ssm) -> Result<Config, LoadError> {
    let text = match value.strip_prefix("ssm:") {
        Some(path) => ssm.parameter(path).await?,
        None => value.to_string(),
    };
    let mut fetched = HashMap::new();
    for path in ssm_paths(&text) {
        if path.starts_with('/') {
            let secret = ssm.parameter(&path).await?;
            fetched.insert(path, secret);
        }
    }
    Ok(Config::parse(&text, &Fetched(fetched))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssm_secrets_are_found_anywhere_in_the_file() {
        let text = r#"
[business]
name = "x"
[channels.whatsapp]
app_secret = "ssm:/accueil/app_secret"
access_token = "env:TOKEN"
verify_token = "ssm:/accueil/verify"
"#;
        let mut paths = ssm_paths(text);
        paths.sort();
        assert_eq!(paths, vec!["/accueil/app_secret", "/accueil/verify"]);
    }
}
