//! Every channel's sample webhook (`accueil simulate`) is one its own route
//! accepts as authentic, and becomes a stored message: a channel cannot be
//! added without a sample that works.

use accueil_core::channels::{self, Sample};
use accueil_core::domain::Channel;
use accueil_core::ports::Store;
use accueil_e2e::{demo_config, open_hours, Bench};

#[tokio::test]
async fn every_channel_s_sample_is_accepted_and_stored() {
    let bench = Bench::start(demo_config(&[]), open_hours()).await;
    for &channel in Channel::ALL {
        let sample = channels::sample(
            &bench.config,
            channel,
            &Sample {
                from: channels::demo_sender(channel),
                text: "Bonjour",
                name: Some("Zoé"),
                id: None,
                at: open_hours(),
            },
        )
        .unwrap();
        let (content_type, headers): (Vec<_>, Vec<_>) = sample
            .headers
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .partition(|(k, _)| *k == "content-type");
        let response = bench
            .post(sample.path, content_type[0].1, &headers, sample.body)
            .await;
        assert!(
            response.status().is_success(),
            "{channel}: {}",
            response.status()
        );
    }
    bench.settle().await;
    let threads = bench.database.threads().await.unwrap();
    let mut stored: Vec<Channel> = threads.iter().map(|t| t.channel).collect();
    stored.sort();
    assert_eq!(stored, Channel::ALL);
}

#[test]
fn a_sample_names_what_is_wrong_with_its_sender_or_its_channel() {
    let config = demo_config(&[]);
    let sample = |channel, from| {
        channels::sample(
            &config,
            channel,
            &Sample {
                from,
                text: "x",
                name: None,
                id: None,
                at: open_hours(),
            },
        )
    };
    let e = sample(Channel::Webform, "not an address").unwrap_err();
    assert!(e.to_string().contains("an email address"), "{e}");
    let e = sample(Channel::Whatsapp, "zoe@example.com").unwrap_err();
    assert!(e.to_string().contains("phone number"), "{e}");

    let whatsapp = "[channels.whatsapp]\nphone_number_id = \"100200300400500\"\nverify_token = \"demo-verify-token\"\napp_secret = \"demo-app-secret\"\naccess_token = \"demo-access-token\"";
    let form_only = demo_config(&[(whatsapp, "")]);
    let e = channels::sample(
        &form_only,
        Channel::Whatsapp,
        &Sample {
            from: "+33600000077",
            text: "x",
            name: None,
            id: None,
            at: open_hours(),
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the whatsapp channel is not enabled in this configuration"
    );
}
