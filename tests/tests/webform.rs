//! The website form through the HTTP server on loopback into SQLite.

use accueil_core::ports::Store;
use accueil_e2e::{demo_config, open_hours, saturday_night, Bench};
use serde_json::Value;

const FORM: &str = "name=Zo%C3%A9+Martin&email=zoe%40example.com&phone=%2B33+6+00+00+00+10&message=Un+g%C3%A2teau+pour+samedi+%3F";

#[tokio::test]
async fn a_form_gets_a_thank_you_page_with_the_reference_and_an_email_acknowledgement() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    let response = bench.post_form(FORM).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    let reference = page
        .split("<strong>")
        .nth(1)
        .and_then(|s| s.split("</strong>").next())
        .expect("the page shows the reference")
        .to_string();
    assert!(page.contains("Merci"), "{page}");

    bench.settle().await;
    let threads = bench.database.threads().await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(
        threads[0].id.as_str(),
        reference,
        "the thread takes the reference the page showed"
    );
    assert_eq!(threads[0].contact.addresses.len(), 2, "email and phone");

    let emails: Vec<_> = bench
        .outbox_files()
        .into_iter()
        .filter(|(n, _)| n.ends_with(".eml"))
        .collect();
    assert_eq!(emails.len(), 1);
    let eml = &emails[0].1;
    assert!(eml.contains("To: \"=?utf-8?"), "{eml}");
    assert!(eml.contains("<zoe@example.com>"), "{eml}");
    assert!(eml.contains("Auto-Submitted: auto-replied"), "{eml}");
    assert!(eml.contains("Message-ID: <"), "{eml}");
    assert!(
        eml.contains("text/html") && eml.contains("text/plain"),
        "{eml}"
    );
    assert!(eml.replace("=\r\n", "").contains(&reference), "{eml}");
}

#[tokio::test]
async fn json_in_json_out() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    let response = bench
        .post(
            "/webhooks/webform",
            "application/json",
            &[("accept", "application/json")],
            r#"{"name":"Zoé","email":"zoe@example.com","message":"Bonjour"}"#,
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "received");
    assert!(body["reference"].as_str().unwrap().starts_with("T-"));
}

#[tokio::test]
async fn a_missing_field_gets_a_400_naming_it() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    let r = bench
        .post(
            "/webhooks/webform",
            "application/x-www-form-urlencoded",
            &[("accept", "application/json")],
            "name=Zo%C3%A9&message=Bonjour",
        )
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "email");
    assert!(body["error"].as_str().unwrap().contains("email"));

    let r = bench.post_form("email=zoe%40example.com").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("message"));
    assert_eq!(bench.database.queue_stats().await.unwrap().waiting, 0);
}

#[tokio::test]
async fn a_filled_honeypot_is_thanked_but_nothing_is_kept_or_sent() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    let r = bench
        .post_form(&format!("{FORM}&website=http%3A%2F%2Fspam.example"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Merci"));
    assert_eq!(bench.settle().await, 0);
    assert!(bench.database.threads().await.unwrap().is_empty());
    assert!(bench.outbox_files().is_empty());
}

#[tokio::test]
async fn the_per_ip_rate_limit_answers_429() {
    let bench = Bench::start(
        demo_config(&[("rate_limit_per_minute = 5", "rate_limit_per_minute = 2")]),
        open_hours(),
    )
    .await;
    assert_eq!(bench.post_form(FORM).await.status(), 200);
    assert_eq!(bench.post_form(FORM).await.status(), 200);
    let limited = bench.post_form(FORM).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "60");
    assert_eq!(bench.database.queue_stats().await.unwrap().waiting, 2);
}

#[tokio::test]
async fn closed_hours_wording_in_french_and_in_english() {
    for (language, expected) in [
        ("fr", "Nous sommes fermés pour le moment et serons de retour lundi à 9 h 00 ; vous aurez notre réponse au plus tard lundi à 14 h 30."),
        ("en", "We are closed right now and will be back Monday at 9:00 AM; you will have our answer by Monday at 2:30 PM."),
    ] {
        let config = demo_config(&[("language = \"fr\"", &format!("language = \"{language}\""))]);
        let bench = Bench::start(config, saturday_night()).await;
        bench.post_form(FORM).await;
        bench.settle().await;
        let (_, eml) = bench.outbox_files().pop().expect("an acknowledgement");
        // The text part is quoted-printable; undo its soft line breaks and the few escapes used here.
        let text = eml
            .replace("=\r\n", "")
            .replace("=C3=A9", "é")
            .replace("=C3=A0", "à")
            .replace("=E2=80=99", "’");
        assert!(text.contains(expected), "{language}: {text}");
    }
}
