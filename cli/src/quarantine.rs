//! `accueil quarantine`: the authentic payloads that could not be read,
//! kept whole so that nothing a customer sent is lost. The digest counts
//! them; this lists them and gives each back as it came in.

use std::io::Write;

use anyhow::{bail, Result};

use crate::backend::Backend;
use crate::Place;

/// Without an id, one line per payload, the latest first; with one, that
/// payload as kept on stdout (what it was, on stderr): the bytes received,
/// but for any that were not UTF-8, which were replaced when it was kept.
pub async fn run(place: &Place, id: Option<&str>) -> Result<()> {
    let data = Backend::open(place).await?;
    let entries = data.store.quarantine_entries().await?;
    let tz = data.config.business.timezone;
    let Some(id) = id else {
        if entries.is_empty() {
            println!("Nothing in quarantine.");
        }
        for e in &entries {
            let at = e.received_at.with_timezone(&tz).format("%Y-%m-%d %H:%M");
            println!("{}  {at}  {:<9} {}", e.id, e.channel.as_str(), e.reason);
        }
        return Ok(());
    };
    let Some(entry) = entries.iter().find(|e| e.id == id) else {
        bail!("no quarantined payload {id:?} (`accueil quarantine` lists them)");
    };
    let Some(payload) = data.store.quarantined_payload(id).await? else {
        bail!("the quarantined payload {id:?} is listed but its content is gone");
    };
    eprintln!(
        "{} payload received {}: {}",
        entry.channel,
        entry
            .received_at
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M:%S %Z"),
        entry.reason
    );
    let mut out = std::io::stdout().lock();
    out.write_all(payload.as_bytes())?;
    out.flush()?;
    Ok(())
}
