//! Pages in a real browser (headless Chromium): the harness itself, on
//! pages made to fit or not, a form typed into and posted, and the owner's
//! digest on a phone and on a desktop. Screenshots: target/screenshots/.

use std::collections::HashMap;
use std::path::Path;

use axum::response::Html;
use axum::routing::get;
use axum::{Form, Router};
use chrono::Duration;

use accueil_core::digest::Digest;
use accueil_core::ports::Store;
use accueil_e2e::browser::Browser;
use accueil_e2e::{demo_config, open_hours, whatsapp_text_sent, Bench};

/// A phone's viewport and a laptop's.
const SIZES: [(u32, u32); 2] = [(390, 844), (1280, 800)];

/// Serves `app` on a loopback port; its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A PNG's width and height, from its header.
fn png_size(path: &Path) -> (u32, u32) {
    let png = std::fs::read(path).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    let at = |i: usize| u32::from_be_bytes(png[i..i + 4].try_into().unwrap());
    (at(16), at(20))
}

const FITS: &str = r#"<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Fits</title></head>
<body style="font-family:sans-serif;margin:0;padding:1em">
<h1>Bonjour</h1><p>A paragraph long enough to wrap on a phone's screen, as any text does
when nothing in it is wider than the page.</p><img alt="" style="max-width:100%;width:600px;height:40px;background:#1a5fb4">
</body></html>"#;

/// 2000 px wide whatever the viewport: the margin is 0, so the page
/// overflows by exactly 2000 less the viewport's width.
const WIDE: &str = r#"<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Wide</title></head>
<body style="margin:0"><div class="banner wide" style="width:2000px;height:50px;background:#b3261e"></div></body></html>"#;

#[tokio::test]
async fn a_page_that_fits_does_not_scroll_sideways_and_a_wide_one_does() {
    let base = serve(
        Router::new()
            .route("/fits", get(|| async { Html(FITS) }))
            .route("/wide", get(|| async { Html(WIDE) })),
    )
    .await;
    let browser = Browser::start().await;
    for (width, height) in SIZES {
        browser.set_size(width, height).await;
        assert_eq!(browser.viewport().await, (width, height));

        browser.open(&format!("{base}/fits")).await;
        assert_eq!(
            browser.horizontal_overflow().await,
            0,
            "at {width}×{height}"
        );
        let shot = browser.screenshot(&format!("fits-{width}x{height}")).await;
        assert_eq!(png_size(&shot), (width, height), "{}", shot.display());

        browser.open(&format!("{base}/wide")).await;
        assert_eq!(
            browser.horizontal_overflow().await,
            2000 - i64::from(width),
            "at {width}×{height}"
        );
        browser.screenshot(&format!("wide-{width}x{height}")).await;
    }
}

const FORM: &str = r#"<!doctype html><html><head><meta charset="utf-8"><title>Form</title></head>
<body><form method="post" action="/said"><textarea name="message"></textarea>
<button type="submit" id="send">Send</button></form></body></html>"#;

async fn said(Form(form): Form<HashMap<String, String>>) -> Html<String> {
    let message = form["message"]
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body><p>You wrote: {message}</p></body></html>"
    ))
}

#[tokio::test]
async fn a_form_filled_in_the_browser_posts_what_was_typed() {
    let base = serve(
        Router::new()
            .route("/form", get(|| async { Html(FORM) }))
            .route("/said", axum::routing::post(said)),
    )
    .await;
    let browser = Browser::start().await;
    browser.set_size(390, 844).await;
    browser.open(&format!("{base}/form")).await;
    let typed = "Une table pour 4 & un chien, vendredi à 20 h ?";
    browser.fill("textarea[name=message]", typed).await;
    browser.screenshot("form-filled-390x844").await;
    browser.submit("#send").await;
    assert_eq!(browser.current_url().await, format!("{base}/said"));
    let text = browser.text().await;
    assert_eq!(text, format!("You wrote: {typed}"));
    browser.screenshot("form-posted-390x844").await;
}

#[tokio::test]
async fn the_digest_fits_a_phone_and_a_desktop_without_scrolling_sideways() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    bench
        .post_form("name=Camille+Durand&email=camille.durand%40example.com&message=Bonjour%2C+avez-vous+encore+la+robe+bleue+en+taille+38+%3F")
        .await;
    // 90 characters with no space to break at: the widest thing a
    // customer sends.
    let url = "https://boutique.example/commandes/2026/11/24/confirmation?reference=ABCDEFGH12345678&p=12";
    assert_eq!(url.len(), 90);
    bench
        .post_whatsapp(&whatsapp_text_sent(
            "33600000060",
            "wamid.B1",
            &format!("Ma commande n'est pas arrivée : {url}"),
            open_hours(),
        ))
        .await;
    bench
        .post_form("name=Jean&email=jean%40example.com&message=Vous+ouvrez+le+dimanche+%3F")
        .await;
    bench.settle().await;
    let digest = Digest::build(
        &bench.config,
        &bench.database,
        0,
        open_hours() + Duration::hours(2),
    )
    .await
    .unwrap();
    assert_eq!(digest.threads.len(), 3);
    assert!(digest.threads.iter().any(|t| t.excerpt.contains(url)));
    let html = digest.html();
    let page = move || std::future::ready(Html(html.clone()));
    let base = serve(Router::new().route("/digest", get(page))).await;

    let browser = Browser::start().await;
    for (width, height) in SIZES {
        browser.set_size(width, height).await;
        browser.open(&format!("{base}/digest")).await;
        assert!(browser.text().await.contains(url));
        assert_eq!(
            browser.horizontal_overflow().await,
            0,
            "at {width}×{height}"
        );
        browser
            .screenshot(&format!("digest-{width}x{height}"))
            .await;
    }
}

#[tokio::test]
async fn the_conversation_page_fits_a_phone_and_a_desktop_and_its_reply_form_works() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    let url = "https://boutique.example/commandes/2026/11/24/confirmation?reference=ABCDEFGH12345678&p=12";
    for (id, text, minutes_ago) in [
        (
            "wamid.P1",
            "Bonjour, ma commande n'est pas arrivée.".to_string(),
            40,
        ),
        ("wamid.P2", format!("Voici le lien : {url}"), 35),
    ] {
        let sent = open_hours() - Duration::minutes(minutes_ago);
        bench
            .post_whatsapp(&whatsapp_text_sent("33600000061", id, &text, sent))
            .await;
    }
    bench.settle().await;
    let thread = bench.database.threads().await.unwrap().pop().unwrap();
    let link = accueil_core::owner::page_link(&bench.config, &thread.id, open_hours()).unwrap();

    let browser = Browser::start().await;
    for (width, height) in SIZES {
        browser.set_size(width, height).await;
        browser.open(&link).await;
        assert!(browser.text().await.contains(url));
        assert_eq!(
            browser.horizontal_overflow().await,
            0,
            "at {width}×{height}"
        );
        browser
            .screenshot(&format!("thread-{width}x{height}"))
            .await;
    }

    // On the phone: type the answer, send it, read the confirmation.
    browser.set_size(390, 844).await;
    browser.open(&link).await;
    let answer = "Elle part demain matin, vous aurez le suivi <ici> & par SMS.";
    browser.fill("textarea[name=text]", answer).await;
    browser.submit("form[action$='/reply'] button").await;
    assert!(browser.current_url().await.ends_with("&done=reply"));
    let confirmed = browser.text().await;
    assert!(
        confirmed.contains("Votre réponse est enregistrée"),
        "{confirmed}"
    );
    assert_eq!(browser.horizontal_overflow().await, 0);
    browser.screenshot("thread-replied-390x844").await;
    // Once the worker sent it, the page shows it in the thread, sent.
    assert_eq!(bench.settle().await, 1);
    browser.open(&link).await;
    let shown = browser.text().await;
    assert!(shown.contains(answer), "{shown}");
    assert!(shown.contains("Envoyé"), "{shown}");
    browser.screenshot("thread-answered-390x844").await;
}
