//! Nothing accepted is lost: the queue is a SQLite table that outlives the process.

use accueil_core::ports::Store;
use accueil_e2e::{demo_config, open_hours, whatsapp_text, Bench};

#[tokio::test]
async fn a_message_accepted_before_a_kill_is_processed_after_restart() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    let r = bench
        .post_whatsapp(&whatsapp_text(
            "33600000020",
            "wamid.KILL1",
            "Avant la panne",
        ))
        .await;
    assert_eq!(
        r.status(),
        200,
        "accepted: the provider will not send it again"
    );
    assert_eq!(bench.database.queue_stats().await.unwrap().waiting, 1);
    assert!(bench.database.threads().await.unwrap().is_empty());

    // The process dies before its worker ran.
    let folder = bench.kill();

    let restarted = Bench::start_in(folder, demo_config(&[]), open_hours()).await;
    assert_eq!(restarted.settle().await, 1);
    let threads = restarted.database.threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].last_excerpt, "Avant la panne");
    assert_eq!(restarted.outbox_files().len(), 1, "and it is acknowledged");
}

#[tokio::test]
async fn a_job_claimed_by_a_process_that_died_is_claimed_again_after_restart() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    bench
        .post_whatsapp(&whatsapp_text(
            "33600000021",
            "wamid.KILL2",
            "Pendant la panne",
        ))
        .await;
    // A worker takes the job (its lease runs for a minute) and dies before finishing.
    let claimed = bench
        .database
        .claim(chrono::Utc::now(), chrono::Duration::seconds(60))
        .await
        .unwrap()
        .expect("a job to claim");
    assert!(claimed.job.is_some());
    let folder = bench.kill();

    let restarted = Bench::start_in(folder, demo_config(&[]), open_hours()).await;
    assert_eq!(
        restarted.settle().await,
        0,
        "the lease still hides it until released"
    );
    restarted.database.release_leases().await.unwrap();
    assert_eq!(restarted.settle().await, 1);
    assert_eq!(restarted.database.threads().await.unwrap().len(), 1);
}
