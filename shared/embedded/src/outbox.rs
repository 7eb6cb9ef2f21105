//! The local stand-in for sending: every acknowledgement and digest is
//! written as a file the developer can open (.eml opens in any mail client).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::Utc;

use accueil_core::email::OutgoingEmail;
use accueil_core::ports::{ApiRequest, ChannelSender, Mailer, SendError};

#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Outbox> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Outbox { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Names sort by time; no customer data appears in them.
    async fn write(&self, kind: &str, extension: &str, bytes: &[u8]) -> Result<String, SendError> {
        let name = format!(
            "{}-{kind}-{}.{extension}",
            Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let path = self.dir.join(&name);
        // Written beside and renamed, so a reader never sees half a file.
        let partial = self.dir.join(format!(".{name}.partial"));
        tokio::fs::write(&partial, bytes)
            .await
            .map_err(|e| SendError::Transient(format!("outbox not writable: {e}")))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| SendError::Transient(format!("outbox not writable: {e}")))?;
        Ok(path.display().to_string())
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let kind = if email.auto_reply {
            "ack-email"
        } else {
            "digest"
        };
        self.write(kind, "eml", &email.raw).await
    }
}

#[async_trait]
impl ChannelSender for Outbox {
    /// The exact JSON body the channel's API would receive.
    async fn send(&self, request: &ApiRequest) -> Result<String, SendError> {
        let body = serde_json::to_vec(&request.body).expect("a JSON value serializes");
        self.write(&format!("ack-{}", request.channel), "json", &body)
            .await
    }
}
