//! The composition root of the local backend: configuration, SQLite file,
//! outbox, and the processor wired onto them.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};

use accueil_core::config::{Config, LocalSecrets};
use accueil_core::outbound::ChannelApis;
use accueil_core::ports::{ChannelSender, SystemClock};
use accueil_core::process::Processor;
use accueil_embedded::{Database, Outbox};

use crate::Place;

pub struct Local {
    pub config: Arc<Config>,
    pub database: Database,
    pub outbox: Outbox,
}

pub fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        None => Ok(Config::demo()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the configuration {}", path.display()))?;
            Config::parse(&text, &LocalSecrets)
                .with_context(|| format!("configuration {} refused", path.display()))
        }
    }
}

pub fn check_config(path: &Path) -> Result<()> {
    let config = load_config(Some(path))?;
    let channels: Vec<&str> = config
        .enabled_channels()
        .iter()
        .map(|c| c.as_str())
        .collect();
    println!(
        "{}: valid — {} ({}), channels: {}",
        path.display(),
        config.business.name,
        config.business.timezone,
        channels.join(", ")
    );
    Ok(())
}

impl Local {
    pub fn open(place: &Place) -> Result<Local> {
        let config = Arc::new(load_config(place.config.as_deref())?);
        std::fs::create_dir_all(&place.data)
            .with_context(|| format!("cannot create the data folder {}", place.data.display()))?;
        let database = Database::open(&place.data.join("accueil.db"))?;
        let outbox = Outbox::new(place.data.join("outbox"))
            .with_context(|| format!("cannot create the outbox in {}", place.data.display()))?;
        Ok(Local {
            config,
            database,
            outbox,
        })
    }

    /// The processor, its store and queue on `database` (this one's, as
    /// the caller will use it).
    pub fn processor(&self, database: &Database) -> Processor {
        let outbox: Arc<dyn ChannelSender> = Arc::new(self.outbox.clone());
        Processor {
            config: self.config.clone(),
            store: Arc::new(database.clone()),
            mailer: Arc::new(self.outbox.clone()),
            sender: Arc::new(ChannelApis::new(&self.config, Some(outbox))),
            queue: Arc::new(database.clone()),
            clock: Arc::new(SystemClock),
        }
    }
}
