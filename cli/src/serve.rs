//! `accueil serve`: the ingest router over HTTP, the queue worker and the
//! digest timer in one process.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;
use tokio::sync::watch;

use accueil_core::channels;
use accueil_core::digest;
use accueil_core::ingest;
use accueil_core::ports::SystemClock;
use accueil_embedded::worker;

use crate::local::Local;
use crate::Place;

#[derive(Args)]
pub struct ServeArgs {
    /// TCP port to listen on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on; 0.0.0.0 to accept from the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
}

pub async fn run(place: &Place, args: ServeArgs) -> Result<()> {
    let mut local = Local::open(place)?;
    let listener = tokio::net::TcpListener::bind((args.bind, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))?;
    let address = listener.local_addr()?;
    // The owner's links point here unless `[owner] public_url` says where.
    let reachable = match address.ip().is_unspecified() {
        true => SocketAddr::from(([127, 0, 0, 1], address.port())),
        false => address,
    };
    local.config = Arc::new(
        (*local.config)
            .clone()
            .serving_at(&format!("http://{reachable}")),
    );
    print_welcome(&local, address);

    // Ingest and the worker share one database handle, so an enqueue wakes the worker at once.
    let app = ingest::router(
        local.config.clone(),
        Arc::new(local.database.clone()),
        Arc::new(local.database.clone()),
        Arc::new(SystemClock),
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = spawn_worker(&local, stop_rx.clone())?;
    let digests = tokio::spawn(digest_timer(Arc::new(local), stop_rx));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("the HTTP server stopped")?;

    tracing::info!("stopping; queued jobs stay in the database for the next start");
    let _ = stop_tx.send(true);
    let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    digests.abort();
    Ok(())
}

/// The queue worker, on a thread and a runtime of its own: its calls on
/// the database block that thread only, never one that answers webhooks.
fn spawn_worker(local: &Local, stop: watch::Receiver<bool>) -> Result<std::thread::JoinHandle<()>> {
    let database = local.database.clone().on_own_thread();
    let processor = Arc::new(local.processor(&database));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the queue worker")?;
    std::thread::Builder::new()
        .name("accueil-worker".into())
        .spawn(move || runtime.block_on(worker::run(database, processor, stop)))
        .context("cannot start the queue worker")
}

fn print_welcome(local: &Local, address: SocketAddr) {
    let config = &local.config;
    let base = format!("http://{address}");
    println!(
        "Accueil for {} ({})",
        config.business.name, config.business.timezone
    );
    println!("Webhook URLs:");
    for channel in config.enabled_channels() {
        let (methods, path) = channels::webhook(channel);
        println!("  {:<9} {methods:<8} {base}{path}", channel.as_str());
    }
    println!("Database: {}", local.database.path().display());
    println!("Outbox:   {}", local.outbox.dir().display());
    let next = digest::next_run(config, Utc::now()).with_timezone(&config.business.timezone);
    println!("Next digest: {}", next.format("%Y-%m-%d %H:%M %Z"));
    println!("Try: accueil simulate webform --from you@example.com --text \"Hello\"");
}

/// Sends the digest into the outbox every day at `digest.time`.
async fn digest_timer(local: Arc<Local>, mut stop: watch::Receiver<bool>) {
    let mailer = local.outbox.clone();
    loop {
        let next = digest::next_run(&local.config, Utc::now());
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        let dead_letters = local
            .database
            .queue_stats()
            .await
            .map(|q| q.dead)
            .unwrap_or(0);
        match digest::send(
            &local.config,
            &local.database,
            &mailer,
            dead_letters,
            Utc::now(),
        )
        .await
        {
            Ok(Some(file)) => tracing::info!(file = %file, "digest written to the outbox"),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "digest failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
