//! The `fashn` adapter against a fake FASHN: runs with `?webhook_url=`, unsigned webhooks
//! proved only by the callback URL's token, status words.

use std::sync::Arc;

use fitroom_server::clock::{ManualClock, SharedClock};
use fitroom_server::providers::{Authenticity, Provider, TaskState, WebhookError};
use serde_json::json;

use crate::common::START;
use crate::fakes::checks::{self, Expect, TOKEN, adapter, task};
use crate::fakes::fashn::FakeFashn;
use crate::fakes::{Protocol, closed_base};

async fn setup() -> (SharedClock, Arc<dyn Provider>, Arc<FakeFashn>) {
    let clock: SharedClock = Arc::new(ManualClock::at(START));
    let fake = FakeFashn::start(clock.clone()).await;
    let provider = adapter("fashn", &fake.env(), &clock);
    (clock, provider, fake)
}

#[tokio::test]
async fn a_run_names_the_model_the_mapped_inputs_and_the_webhook_url() {
    let (_, provider, fake) = setup().await;

    let id = provider.submit(&task("fashn")).await.expect("accepted");

    let request = fake.core.last_request();
    assert_eq!(request.path, "/v1/run");
    assert_eq!(request.header("authorization"), Some("Bearer fa-fake-key"));
    assert_eq!(request.query_param("webhook_url"), Some(task("fashn").callback_url));
    assert_eq!(
        request.body,
        json!({
            "model_name": "tryon-v1.6",
            "inputs": {
                "model_image": "https://fitroom.example/files/person.png?sig=1",
                "garment_image": "https://fitroom.example/files/garment.png?sig=2",
                "category": "auto",
            },
        })
    );
    assert!(fake.core.task(&id).is_some());
}

#[tokio::test]
async fn a_webhook_is_believed_only_through_its_token_and_a_fetch() {
    let (clock, provider, fake) = setup().await;
    let id = provider.submit(&task("fashn")).await.expect("accepted");
    fake.core.succeed(&id, "completed");

    let delivery = fake.webhook(&id);
    let event = provider
        .parse_webhook(&delivery.headers, delivery.query(), &delivery.body, clock.now())
        .await
        .expect("readable");

    assert_eq!(event.task_id, id);
    assert_eq!(event.authenticity, Authenticity::Token(TOKEN.into()));
    // The body is only a hint; the webhook handler asks the API, which says the same here.
    assert_eq!(
        provider.fetch(&id).await.expect("status"),
        TaskState::Succeeded {
            outputs: vec![format!("{}/outputs/{id}.png", fake.core.base)],
            cost: None
        }
    );

    let without_token = provider
        .parse_webhook(&delivery.headers, Some("job=job_0001"), &delivery.body, clock.now())
        .await;
    assert!(matches!(without_token, Err(WebhookError::BadSignature(_))));
    let garbage =
        provider.parse_webhook(&delivery.headers, delivery.query(), b"<html>", clock.now()).await;
    assert!(matches!(garbage, Err(WebhookError::Malformed(_))));
}

#[tokio::test]
async fn fetch_maps_every_status_word() {
    let (_, provider, fake) = setup().await;
    let id = provider.submit(&task("fashn")).await.expect("accepted");
    let words = [
        ("starting", Expect::Pending),
        ("in_queue", Expect::Pending),
        ("processing", Expect::Pending),
        ("completed", Expect::Succeeded),
        ("failed", Expect::Failed),
        ("canceled", Expect::Failed),
        ("time_out", Expect::Failed),
    ];
    checks::fetch_maps_every_word(&fake.core, provider.as_ref(), &id, &id, &words).await;
    assert_eq!(fake.core.last_request().path, format!("/v1/status/{id}"));
}

#[tokio::test]
async fn outages_are_unavailable_and_refusals_are_rejected() {
    let (clock, provider, fake) = setup().await;
    let mut env = fake.env();
    env.push(("FASHN_API_BASE".into(), format!("{}/v1", closed_base().await)));
    let unreachable = adapter("fashn", &env, &clock);
    checks::failures_are_classified(&fake.core, provider.as_ref(), unreachable.as_ref(), "fashn")
        .await;
}

#[tokio::test]
async fn a_missing_key_stops_startup_naming_the_variable() {
    let (clock, _, fake) = setup().await;
    checks::each_required_setting_is_named("fashn", &fake.env(), &["FASHN_API_KEY"], &clock);
}
