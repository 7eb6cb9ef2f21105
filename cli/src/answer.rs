//! The owner's actions on a thread, as on its page: reply, snooze, reopen
//! (`close` is in `show`). Locally or, with `--aws`, on the deployed table.

use anyhow::{bail, Result};
use chrono::Utc;

use accueil_core::domain::ThreadChange;
use accueil_core::owner::reply::{check, Unsendable};
use accueil_core::owner::{later, Reply};

use crate::backend::Backend;
use crate::show::find;
use crate::Place;

pub async fn reply(place: &Place, id: &str, text: &str) -> Result<()> {
    let data = Backend::open(place).await?;
    let found = find(&data, id).await?;
    let now = Utc::now();
    let (id, channel) = (&found.thread.id, found.thread.channel);
    match check(&found, text, now) {
        Ok(()) => {}
        Err(Unsendable::Closed) => bail!("{id} is closed: `accueil reopen {id}` first"),
        Err(Unsendable::Empty) => bail!("--text is empty"),
        Err(Unsendable::TooLong { longest }) => {
            bail!("--text is longer than {channel} takes ({longest} bytes of UTF-8)")
        }
        Err(Unsendable::WindowClosed { at }) => bail!(
            "{channel} no longer lets the business write to this customer (its window closed {}); answer from the app",
            at.format("%Y-%m-%d %H:%M UTC")
        ),
    }
    let reply = Reply::new(
        found.thread.id.clone(),
        found.thread.channel,
        &Reply::new_id(),
        text,
        now,
    )?;
    println!("{}", data.send_reply(reply).await?);
    Ok(())
}

pub async fn snooze(place: &Place, id: &str, until: &str) -> Result<()> {
    let data = Backend::open(place).await?;
    let found = find(&data, id).await?;
    let now = Utc::now();
    let until =
        later::parse(&data.config, until, now).map_err(|e| anyhow::anyhow!("--until {e}"))?;
    let change = ThreadChange::Snooze { until };
    if data
        .store
        .change_thread(&found.thread.id, change, now)
        .await?
    {
        let local = until.with_timezone(&data.config.business.timezone);
        println!(
            "{} snoozed until {}.",
            found.thread.id,
            local.format("%Y-%m-%d %H:%M %Z")
        );
    } else {
        println!("{} is closed: nothing to snooze.", found.thread.id);
    }
    Ok(())
}

pub async fn reopen(place: &Place, id: &str) -> Result<()> {
    let data = Backend::open(place).await?;
    let found = find(&data, id).await?;
    if data
        .store
        .change_thread(&found.thread.id, ThreadChange::Reopen, Utc::now())
        .await?
    {
        println!("{} is open again.", found.thread.id);
    } else {
        println!(
            "{} stays as it is: already open, or the customer has a newer conversation on the channel.",
            found.thread.id
        );
    }
    Ok(())
}
