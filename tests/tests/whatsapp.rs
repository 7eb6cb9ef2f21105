//! WhatsApp Cloud API through the HTTP server on loopback into SQLite.

use accueil_core::domain::ThreadChange;
use accueil_core::ports::{Clock, Store};
use accueil_e2e::{channel_api, demo_config, open_hours, saturday_night, whatsapp_text, Bench};
use serde_json::{json, Value};

async fn bench() -> Bench {
    Bench::start(demo_config(&[]), open_hours()).await
}

fn ack_jsons(bench: &Bench) -> Vec<Value> {
    bench
        .outbox_files()
        .into_iter()
        .filter(|(name, _)| name.contains("-ack-whatsapp-"))
        .map(|(_, content)| serde_json::from_str(&content).unwrap())
        .collect()
}

#[tokio::test]
async fn the_handshake_echoes_the_challenge_only_for_the_right_token() {
    let bench = bench().await;
    let get = |q: &str| reqwest::get(format!("{}/webhooks/whatsapp?{q}", bench.base));
    let ok = get("hub.mode=subscribe&hub.verify_token=demo-verify-token&hub.challenge=1158201444")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = get("hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444")
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let no_mode = get("hub.verify_token=demo-verify-token&hub.challenge=1")
        .await
        .unwrap();
    assert_eq!(no_mode.status(), 403);
}

#[tokio::test]
async fn a_text_message_is_stored_and_acknowledged_with_the_graph_api_json() {
    let bench = bench().await;
    let response = bench
        .post_whatsapp(&whatsapp_text(
            "33600000001",
            "wamid.A1",
            "Bonjour, un devis ?",
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(bench.settle().await, 1);

    let threads = bench.database.threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    let thread = &threads[0];
    assert_eq!(thread.contact.name.as_deref(), Some("Zoé Martin"));
    assert_eq!(thread.last_excerpt, "Bonjour, un devis ?");

    let acks = ack_jsons(&bench);
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert_eq!(ack["messaging_product"], "whatsapp");
    assert_eq!(ack["to"], "33600000001");
    assert_eq!(ack["type"], "text");
    assert_eq!(ack["context"]["message_id"], "wamid.A1");
    let body = ack["text"]["body"].as_str().unwrap();
    assert!(body.contains("dans les 4 heures"), "{body}");
    assert!(body.contains(thread.id.as_str()), "{body}");
}

#[tokio::test]
async fn the_same_webhook_delivered_twice_gives_one_message_and_one_acknowledgement() {
    let bench = bench().await;
    let payload = whatsapp_text("33600000002", "wamid.TWICE", "Vous livrez ?");
    assert_eq!(bench.post_whatsapp(&payload).await.status(), 200);
    assert_eq!(bench.post_whatsapp(&payload).await.status(), 200);
    assert_eq!(bench.settle().await, 2);
    let threads = bench.database.threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].message_count, 1);
    let full = bench
        .database
        .thread(&threads[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(full.messages.len(), 1);
    assert_eq!(ack_jsons(&bench).len(), 1);
}

#[tokio::test]
async fn a_forged_or_missing_signature_gets_401_and_leaves_nothing() {
    let bench = bench().await;
    let payload = whatsapp_text("33600000003", "wamid.FORGED", "hello");
    let forged = accueil_core::channels::meta_signature::MetaSignature::new("not-the-secret")
        .sign(payload.as_bytes());
    let r = bench
        .post(
            "/webhooks/whatsapp",
            "application/json",
            &[("x-hub-signature-256", &forged)],
            payload.clone(),
        )
        .await;
    assert_eq!(r.status(), 401);
    let r = bench
        .post("/webhooks/whatsapp", "application/json", &[], payload)
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(bench.database.queue_stats().await.unwrap().waiting, 0);
    assert_eq!(bench.settle().await, 0);
    assert!(bench.database.threads().await.unwrap().is_empty());
}

#[tokio::test]
async fn statuses_and_reactions_are_not_messages_and_are_never_acknowledged() {
    let bench = bench().await;
    let status = json!({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"100200300400500"},
        "statuses":[{"id":"wamid.OUT1","status":"delivered","timestamp":"1795900000","recipient_id":"33600000004"}]}}]}]});
    let reaction = json!({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"100200300400500"},
        "contacts":[{"profile":{"name":"Zoé"},"wa_id":"33600000004"}],
        "messages":[{"from":"33600000004","id":"wamid.R1","timestamp":"1795900000","type":"reaction","reaction":{"message_id":"wamid.OUT1","emoji":"👍"}}]}}]}]});
    for payload in [status, reaction] {
        assert_eq!(
            bench.post_whatsapp(&payload.to_string()).await.status(),
            200
        );
    }
    bench.settle().await;
    assert!(bench.database.threads().await.unwrap().is_empty());
    assert!(bench.outbox_files().is_empty());
}

#[tokio::test]
async fn a_sender_known_only_by_bsuid_is_answered_by_bsuid() {
    let bench = bench().await;
    let payload = json!({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"100200300400500"},
        "contacts":[{"profile":{"name":"Léa","username":"@lea"},"user_id":"FR.100000000000000042"}],
        "messages":[{"from_user_id":"FR.100000000000000042","id":"wamid.BSUID1","timestamp":"1795900000","type":"text","text":{"body":"Sans numéro"}}]}}]}]});
    assert_eq!(
        bench.post_whatsapp(&payload.to_string()).await.status(),
        200
    );
    bench.settle().await;
    let threads = bench.database.threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].contact.addresses.len(), 1);
    assert_eq!(
        threads[0].contact.addresses[0].key(),
        "whatsapp:id:FR.100000000000000042"
    );
    let acks = ack_jsons(&bench);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["recipient"], "FR.100000000000000042");
    assert!(acks[0].get("to").is_none(), "{}", acks[0]);
}

#[tokio::test]
async fn an_authentic_payload_that_cannot_be_read_is_quarantined_and_answered_200() {
    let bench = bench().await;
    let unreadable = r#"{"object":"whatsapp_business_account","entry":"this is not a list"}"#;
    assert_eq!(bench.post_whatsapp(unreadable).await.status(), 200);
    let not_json = "%PDF-1.4 not json";
    assert_eq!(bench.post_whatsapp(not_json).await.status(), 200);
    bench.settle().await;
    assert_eq!(bench.database.quarantined_since(None).await.unwrap(), 2);
    assert!(bench.database.threads().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_body_over_one_mebibyte_gets_413() {
    let bench = bench().await;
    let huge = format!(
        "{{\"object\":\"whatsapp_business_account\",\"pad\":\"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    assert_eq!(bench.post_whatsapp(&huge).await.status(), 413);
    assert_eq!(bench.database.queue_stats().await.unwrap().waiting, 0);
}

#[tokio::test]
async fn messages_from_one_contact_join_one_open_thread_and_the_quiet_period_holds() {
    let bench = bench().await;
    bench
        .post_whatsapp(&whatsapp_text(
            "33600000005",
            "wamid.Q1",
            "Première question",
        ))
        .await;
    bench
        .post_whatsapp(&whatsapp_text(
            "33600000005",
            "wamid.Q2",
            "Deuxième question",
        ))
        .await;
    bench.settle().await;
    let threads = bench.database.threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].message_count, 2);
    assert_eq!(
        ack_jsons(&bench).len(),
        1,
        "the quiet period allows one acknowledgement"
    );

    // Once closed, the next message opens a new thread, and 13 hours later a new acknowledgement is due.
    bench
        .database
        .change_thread(&threads[0].id, ThreadChange::Close, bench.clock.now())
        .await
        .unwrap();
    bench.clock.set(open_hours() + chrono::Duration::hours(13));
    bench
        .post_whatsapp(&whatsapp_text("33600000005", "wamid.Q3", "Autre chose"))
        .await;
    bench.settle().await;
    assert_eq!(bench.database.threads().await.unwrap().len(), 2);
    assert_eq!(ack_jsons(&bench).len(), 2);
}

#[tokio::test]
async fn with_an_api_base_url_the_acknowledgement_is_really_sent() {
    let (api, recorded) = channel_api().await;
    let config = demo_config(&[(
        "access_token = \"demo-access-token\"",
        &format!("access_token = \"demo-access-token\"\napi_base_url = \"{api}\""),
    )]);
    let bench = Bench::start(config, saturday_night()).await;
    bench
        .post_whatsapp(&whatsapp_text(
            "33600000006",
            "wamid.HTTP1",
            "On peut passer lundi ?",
        ))
        .await;
    bench.settle().await;
    let sent = recorded.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let (path, auth, body) = &sent[0];
    assert_eq!(path, "/100200300400500/messages");
    assert_eq!(auth, "Bearer demo-access-token");
    assert_eq!(body["to"], "33600000006");
    assert!(
        body["text"]["body"]
            .as_str()
            .unwrap()
            .contains("lundi à 9 h 00"),
        "{body}"
    );
    assert!(
        ack_jsons(&bench).is_empty(),
        "nothing goes to the outbox when the API is configured"
    );
}
