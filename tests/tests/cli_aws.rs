//! `accueil … --aws`: the inspecting commands against the DynamoDB table and
//! SES of the local AWS API, through the real binary.

use std::process::{Command, Output};

use accueil_aws::dynamodb::DynamoStore;
use accueil_core::domain::{
    Acknowledgement, Address, Author, Channel, ChannelAddress, Contact, ContactId, EmailAddress,
    Message, MessageId, ProviderMessageId, Thread, ThreadId, ThreadStatus,
};
use accueil_core::ports::{Appending, Store};
use accueil_e2e::{accueil_binary, aws};
use serde_json::Value;

fn run(table: &str, config: &std::path::Path, args: &[&str]) -> Output {
    Command::new(accueil_binary())
        .args(args)
        .arg("--aws")
        .arg("--config")
        .arg(config)
        .env("ACCUEIL_TABLE", table)
        .env("AWS_ENDPOINT_URL", aws::endpoint())
        .env("AWS_REGION", aws::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("ACCUEIL_DLQ_URL")
        .output()
        .unwrap()
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
async fn threads_thread_close_digest_and_forget_work_on_the_aws_table() {
    let sdk = aws::sdk().await;
    let table = aws::table(&sdk).await;
    aws::verify_sender(&sdk, "bonjour@atelier-lune.example").await;
    let owner = format!("{}@example.com", aws::unique("owner"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("accueil.toml");
    std::fs::write(
        &config,
        accueil_core::config::DEMO.replace("owner@atelier-lune.example", &owner),
    )
    .unwrap();

    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
    let now = chrono::Utc::now();
    let contact = Contact {
        id: ContactId::generate(),
        name: Some("Zoé".into()),
        addresses: vec![ChannelAddress::new(
            Channel::Webform,
            Address::Email(EmailAddress::parse("zoe.aws@example.com").unwrap()),
        )],
        created_at: now,
    };
    store.save_contact(&contact).await.unwrap();
    let thread = Thread {
        id: ThreadId::generate(),
        contact: contact.clone(),
        channel: Channel::Webform,
        status: ThreadStatus::Open,
        opened_at: now,
        last_message_at: now,
        message_count: 0,
        last_excerpt: String::new(),
        closed_at: None,
        snoozed_until: None,
        waiting_since: None,
        unacknowledged: false,
    };
    let message = Message {
        id: MessageId::generate(),
        thread_id: thread.id.clone(),
        channel: Channel::Webform,
        provider_id: ProviderMessageId::parse(thread.id.as_str()).unwrap(),
        author: Author::Customer,
        sent_at: now,
        received_at: now,
        text: "Depuis le nuage".into(),
        attachments: vec![],
        edited_at: None,
        deleted_at: None,
        acknowledgement: Some(Acknowledgement::skipped("quiet_period")),
    };
    // The thread opens with its first message, as process stores it.
    let appending = Appending {
        new_thread: Some(&thread),
        ..Appending::to(&message, &contact.id)
    };
    store.append_message(&appending).await.unwrap();

    let listed: Value =
        serde_json::from_str(&ok(&run(&table, &config, &["threads", "--json"]))).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], thread.id.as_str());
    let one: Value = serde_json::from_str(&ok(&run(
        &table,
        &config,
        &["thread", thread.id.as_str(), "--json"],
    )))
    .unwrap();
    assert_eq!(one["messages"][0]["text"], "Depuis le nuage");

    let digest = ok(&run(&table, &config, &["digest", "--send"]));
    assert!(digest.contains("Depuis le nuage"), "{digest}");
    let sent = aws::sent_emails().await;
    assert_eq!(
        sent.iter().filter(|(to, _)| to.contains(&owner)).count(),
        1,
        "the digest went out through SES"
    );

    // The owner's actions: snooze, reopen, reply (queued for the process
    // function), as the page's forms do them.
    let id = thread.id.as_str();
    assert!(ok(&run(
        &table,
        &config,
        &["snooze", id, "--until", "next-week"]
    ))
    .contains("snoozed until"));
    let snoozed = store.thread(&thread.id).await.unwrap().unwrap().thread;
    assert_eq!(snoozed.status, ThreadStatus::Snoozed);
    assert!(snoozed.snoozed_until.unwrap() > now);
    assert!(ok(&run(&table, &config, &["reopen", id])).contains("open again"));
    let no_queue = run(&table, &config, &["reply", id, "--text", "Bonjour"]);
    assert!(String::from_utf8_lossy(&no_queue.stderr).contains("ACCUEIL_QUEUE_URL"));
    let queue = aws::queue(&sdk).await;
    let queued = Command::new(accueil_binary())
        .args(["reply", id, "--text", "C'est prêt.", "--aws", "--config"])
        .arg(&config)
        .env("ACCUEIL_QUEUE_URL", &queue)
        .env("ACCUEIL_TABLE", &table)
        .env("AWS_ENDPOINT_URL", aws::endpoint())
        .env("AWS_REGION", aws::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    assert!(ok(&queued).contains("queued"));
    let received = aws_sdk_sqs::Client::new(&sdk)
        .receive_message()
        .queue_url(&queue)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1);
    match accueil_aws::sqs::decode(received[0].body.as_deref().unwrap()).unwrap() {
        accueil_core::ports::Job::Reply(reply) => {
            assert_eq!(
                (reply.thread_id, reply.text.as_str()),
                (thread.id.clone(), "C'est prêt.")
            )
        }
        other => panic!("{other:?}"),
    }

    assert!(ok(&run(&table, &config, &["close", thread.id.as_str()])).contains("closed"));
    assert!(store
        .threads_by_wait(ThreadStatus::Open)
        .await
        .unwrap()
        .is_empty());
    assert!(
        ok(&run(&table, &config, &["forget", "zoe.aws@example.com"]))
            .contains("1 thread(s), 1 message(s)")
    );
    assert!(store.threads().await.unwrap().is_empty());

    let refused = run(&table, &config, &["serve"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("runs locally"));
    let missing = Command::new(accueil_binary())
        .args(["threads", "--aws"])
        .env_remove("ACCUEIL_TABLE")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ACCUEIL_TABLE"));
}
