//! The `fal` adapter against a fake fal queue: submission with `?fal_webhook=`, the URLs of the
//! queue's answer, Ed25519 webhooks verified against the fake's JWKS, status words.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use ed25519_dalek::SigningKey;
use fitroom_server::clock::{Clock, ManualClock, SharedClock};
use fitroom_server::providers::{Authenticity, Provider, TaskState, WebhookError};
use serde_json::json;

use crate::common::START;
use crate::fakes::checks::{self, Expect, adapter, task};
use crate::fakes::fal::{self, FakeFal};
use crate::fakes::{Protocol, closed_base};

async fn setup() -> (ManualClock, Arc<dyn Provider>, Arc<FakeFal>) {
    let clock = ManualClock::at(START);
    let shared: SharedClock = Arc::new(clock.clone());
    let fake = FakeFal::start(shared.clone()).await;
    let provider = adapter("fal", &fake.env(), &shared);
    (clock, provider, fake)
}

fn request_id(stored: &str) -> &str {
    stored.split(' ').next().expect("request id first")
}

#[tokio::test]
async fn a_request_is_queued_for_the_model_with_the_webhook_in_the_query_and_the_mapped_inputs() {
    let (_, provider, fake) = setup().await;

    let stored = provider.submit(&task("fal")).await.expect("accepted");

    let request = fake.core.last_request();
    assert_eq!(request.path, format!("/{}", fal::MODEL), "the default model, sub-path included");
    assert_eq!(request.header("authorization"), Some("Key fal_fake_key"));
    assert_eq!(request.query_param("fal_webhook"), Some(task("fal").callback_url));
    assert_eq!(
        request.body,
        json!({
            "model_image": "https://fitroom.example/files/person.png?sig=1",
            "garment_image": "https://fitroom.example/files/garment.png?sig=2",
            "category": "auto",
        })
    );
    assert!(fake.core.task(request_id(&stored)).is_some());
    assert_eq!(
        provider.task_key(&stored),
        request_id(&stored),
        "webhooks name the bare request id"
    );
    assert_ne!(
        provider.task_key(&stored),
        stored,
        "the recorded handle carries the queue's URLs too"
    );
}

#[tokio::test]
async fn a_signed_webhook_reads_as_success_with_the_images() {
    let (clock, provider, fake) = setup().await;
    let stored = provider.submit(&task("fal")).await.expect("accepted");
    let id = request_id(&stored);
    fake.core.succeed(id, "COMPLETED");

    let delivery = fake.webhook(id);
    let event = provider
        .parse_webhook(&delivery.headers, delivery.query(), &delivery.body, clock.now())
        .await
        .expect("valid");

    assert_eq!(event.task_id, id);
    assert_eq!(event.authenticity, Authenticity::Signed);
    assert_eq!(
        event.state,
        TaskState::Succeeded {
            outputs: vec![format!("{}/outputs/{id}.png", fake.core.base)],
            cost: None
        }
    );
    // The JWKS was fetched once and is cached for the next delivery.
    provider
        .parse_webhook(&delivery.headers, None, &delivery.body, clock.now())
        .await
        .expect("valid again");
    assert_eq!(fake.jwks_requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_error_webhook_is_a_failure() {
    let (clock, provider, fake) = setup().await;
    let stored = provider.submit(&task("fal")).await.expect("accepted");
    let id = request_id(&stored);
    fake.core.fail(id, "COMPLETED", "Invalid status code: 422");

    let delivery = fake.webhook(id);
    let event = provider
        .parse_webhook(&delivery.headers, None, &delivery.body, clock.now())
        .await
        .expect("valid");

    assert!(
        matches!(&event.state, TaskState::Failed { reason } if reason.contains("422")),
        "{:?}",
        event.state
    );
}

#[tokio::test]
async fn forged_tampered_expired_foreign_and_unknown_key_webhooks_are_refused() {
    let (clock, provider, fake) = setup().await;
    let stored = provider.submit(&task("fal")).await.expect("accepted");
    let id = request_id(&stored);
    fake.core.succeed(id, "COMPLETED");
    let now = clock.now();
    let secs = now.millis() / 1000;
    let refused =
        |result: Result<_, WebhookError>| matches!(result, Err(WebhookError::BadSignature(_)));
    let key = fake.signing_key();

    let mut tampered = fake.webhook(id);
    tampered.body = String::from_utf8(tampered.body)
        .expect("utf8")
        .replace("outputs", "elsewhere")
        .into_bytes();
    assert!(refused(provider.parse_webhook(&tampered.headers, None, &tampered.body, now).await));

    let unknown_key =
        fake.webhook_signed_by(id, &SigningKey::from_bytes(&[99; 32]), fal::USER_ID, secs);
    assert!(refused(
        provider.parse_webhook(&unknown_key.headers, None, &unknown_key.body, now).await
    ));

    let other_account = fake.webhook_signed_by(id, &key, "someone_else", secs);
    assert!(refused(
        provider.parse_webhook(&other_account.headers, None, &other_account.body, now).await
    ));

    let expired = fake.webhook_signed_by(id, &key, fal::USER_ID, secs - 301);
    assert!(refused(provider.parse_webhook(&expired.headers, None, &expired.body, now).await));

    let mut other_request = fake.webhook(id);
    other_request.headers.insert("x-fal-webhook-request-id", "req-999".parse().expect("header"));
    assert!(refused(
        provider.parse_webhook(&other_request.headers, None, &other_request.body, now).await
    ));

    let mut unsigned = fake.webhook(id);
    unsigned.headers.remove("x-fal-webhook-signature");
    assert!(refused(provider.parse_webhook(&unsigned.headers, None, &unsigned.body, now).await));
}

#[tokio::test]
async fn a_rotated_key_is_fetched_again_but_not_more_than_once_a_minute() {
    let (clock, provider, fake) = setup().await;
    let stored = provider.submit(&task("fal")).await.expect("accepted");
    let id = request_id(&stored);
    fake.core.succeed(id, "COMPLETED");
    let first = fake.webhook(id);
    provider
        .parse_webhook(&first.headers, None, &first.body, clock.now())
        .await
        .expect("old key valid");

    fake.rotate_key(12);
    let rotated = fake.webhook(id);
    // Within a minute of the last fetch: a forged-looking signature does not trigger a fetch.
    assert!(
        provider.parse_webhook(&rotated.headers, None, &rotated.body, clock.now()).await.is_err()
    );
    assert_eq!(fake.jwks_requests.load(Ordering::SeqCst), 1);

    clock.advance_millis(61_000);
    let rotated = fake.webhook(id);
    provider
        .parse_webhook(&rotated.headers, None, &rotated.body, clock.now())
        .await
        .expect("new key fetched");
    assert_eq!(fake.jwks_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn fetch_uses_the_queue_answers_urls_and_maps_every_status_word() {
    let (_, provider, fake) = setup().await;
    let stored = provider.submit(&task("fal")).await.expect("accepted");
    let id = request_id(&stored);
    let words = [
        ("IN_QUEUE", Expect::Pending),
        ("IN_PROGRESS", Expect::Pending),
        ("COMPLETED", Expect::Succeeded),
        ("COMPLETED", Expect::Failed),
    ];
    checks::fetch_maps_every_word(&fake.core, provider.as_ref(), &stored, id, &words).await;
    // The status and result URLs drop the model's sub-path, as fal's do: built URLs would miss.
    let paths: Vec<String> = fake.core.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&format!("/fal-ai/fashn/requests/{id}/status")), "{paths:?}");
    assert!(paths.contains(&format!("/fal-ai/fashn/requests/{id}")), "{paths:?}");
}

#[tokio::test]
async fn outages_are_unavailable_and_refusals_are_rejected() {
    let (clock, provider, fake) = setup().await;
    let mut env = fake.env();
    env.push(("FAL_QUEUE_BASE".into(), closed_base().await));
    let shared: SharedClock = Arc::new(clock);
    let unreachable = adapter("fal", &env, &shared);
    checks::failures_are_classified(&fake.core, provider.as_ref(), unreachable.as_ref(), "fal")
        .await;
}

#[tokio::test]
async fn a_missing_key_or_user_id_stops_startup_naming_the_variable() {
    let (clock, _, fake) = setup().await;
    let shared: SharedClock = Arc::new(clock);
    checks::each_required_setting_is_named(
        "fal",
        &fake.env(),
        &["FAL_KEY", "FAL_USER_ID"],
        &shared,
    );
}
