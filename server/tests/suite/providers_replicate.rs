//! The `replicate` adapter against a fake Replicate: predictions, Standard Webhooks signatures,
//! status words, failure classification.

use std::sync::Arc;

use fitroom_server::clock::{Clock, ManualClock, SharedClock};
use fitroom_server::providers::{Authenticity, TaskState, WebhookError};
use serde_json::json;

use crate::common::START;
use crate::fakes::checks::{self, Expect, adapter, task};
use crate::fakes::replicate::{self, FakeReplicate};
use crate::fakes::{Protocol, closed_base};

async fn setup() -> (ManualClock, SharedClock, Arc<FakeReplicate>) {
    let clock = ManualClock::at(START);
    let shared: SharedClock = Arc::new(clock.clone());
    let fake = FakeReplicate::start(shared.clone()).await;
    (clock, shared, fake)
}

#[tokio::test]
async fn a_prediction_is_created_for_the_model_with_the_mapped_inputs_and_a_completed_only_webhook()
{
    let (_, clock, fake) = setup().await;
    let provider = adapter("replicate", &fake.env(), &clock);

    let id = provider.submit(&task("replicate")).await.expect("accepted");

    let request = fake.core.last_request();
    assert_eq!(request.path, "/v1/models/cuuupid/idm-vton/predictions");
    assert_eq!(request.header("authorization"), Some("Bearer r8_fake_token"));
    assert_eq!(
        request.body,
        json!({
            "input": {
                "human_img": "https://fitroom.example/files/person.png?sig=1",
                "garm_img": "https://fitroom.example/files/garment.png?sig=2",
                "garment_des": "a blue linen shirt",
            },
            "webhook": task("replicate").callback_url,
            "webhook_events_filter": ["completed"],
        })
    );
    assert!(fake.core.task(&id).is_some(), "the id is the prediction's");
}

#[tokio::test]
async fn a_version_id_and_a_custom_input_mapping_use_the_generic_endpoint() {
    let (_, clock, fake) = setup().await;
    let mut env = fake.env();
    env.retain(|(k, _)| k != "REPLICATE_MODEL");
    env.push(("REPLICATE_MODEL".into(), "cuuupid/idm-vton:c871bb9b0466".into()));
    env.push((
        "REPLICATE_INPUTS".into(),
        "human_img=$person,garm_img=$garment,category=upper_body,crop=false".into(),
    ));
    let provider = adapter("replicate", &env, &clock);

    provider.submit(&task("replicate")).await.expect("accepted");

    let request = fake.core.last_request();
    assert_eq!(request.path, "/v1/predictions");
    assert_eq!(request.body["version"], "c871bb9b0466");
    assert_eq!(request.body["input"]["category"], "upper_body");
    assert_eq!(request.body["input"]["crop"], false);
    assert_eq!(request.body["input"].get("garment_des"), None);
}

#[tokio::test]
async fn a_signed_completion_webhook_reads_as_success_with_the_output() {
    let (clock, shared, fake) = setup().await;
    let provider = adapter("replicate", &fake.env(), &shared);
    let id = provider.submit(&task("replicate")).await.expect("accepted");
    fake.core.succeed(&id, "succeeded");

    let delivery = fake.webhook(&id);
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
}

#[tokio::test]
async fn failed_canceled_and_aborted_predictions_are_failures() {
    let (clock, shared, fake) = setup().await;
    let provider = adapter("replicate", &fake.env(), &shared);
    let id = provider.submit(&task("replicate")).await.expect("accepted");
    for word in ["failed", "canceled", "aborted"] {
        fake.core.fail(&id, word, "CUDA out of memory");
        let delivery = fake.webhook(&id);
        let event = provider
            .parse_webhook(&delivery.headers, None, &delivery.body, clock.now())
            .await
            .expect("valid");
        assert!(matches!(event.state, TaskState::Failed { .. }), "{word}: {:?}", event.state);
    }
}

#[tokio::test]
async fn forged_tampered_expired_and_wrongly_keyed_webhooks_are_refused() {
    let (clock, shared, fake) = setup().await;
    let provider = adapter("replicate", &fake.env(), &shared);
    let id = provider.submit(&task("replicate")).await.expect("accepted");
    fake.core.succeed(&id, "succeeded");
    let now = clock.now();
    let secs = now.millis() / 1000;
    let refused =
        |result: Result<_, WebhookError>| matches!(result, Err(WebhookError::BadSignature(_)));

    let mut tampered = fake.webhook(&id);
    tampered.body =
        String::from_utf8(tampered.body).expect("utf8").replace("succeeded", "failed").into_bytes();
    assert!(refused(provider.parse_webhook(&tampered.headers, None, &tampered.body, now).await));

    let wrong_key = fake.webhook_signed_with(&id, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", secs);
    assert!(refused(provider.parse_webhook(&wrong_key.headers, None, &wrong_key.body, now).await));

    let expired = fake.webhook_signed_with(&id, replicate::SECRET, secs - 301);
    assert!(refused(provider.parse_webhook(&expired.headers, None, &expired.body, now).await));
    let future = fake.webhook_signed_with(&id, replicate::SECRET, secs + 301);
    assert!(refused(provider.parse_webhook(&future.headers, None, &future.body, now).await));

    let mut unsigned = fake.webhook(&id);
    unsigned.headers.remove("webhook-signature");
    assert!(refused(provider.parse_webhook(&unsigned.headers, None, &unsigned.body, now).await));

    let mut extreme = fake.webhook(&id);
    extreme.headers.insert("webhook-timestamp", "-9223372036854775808".parse().expect("header"));
    assert!(refused(provider.parse_webhook(&extreme.headers, None, &extreme.body, now).await));
}

#[tokio::test]
async fn fetch_maps_every_status_word() {
    let (_, clock, fake) = setup().await;
    let provider = adapter("replicate", &fake.env(), &clock);
    let id = provider.submit(&task("replicate")).await.expect("accepted");
    let words = [
        ("starting", Expect::Pending),
        ("processing", Expect::Pending),
        ("succeeded", Expect::Succeeded),
        ("failed", Expect::Failed),
        ("canceled", Expect::Failed),
        ("aborted", Expect::Failed),
    ];
    checks::fetch_maps_every_word(&fake.core, provider.as_ref(), &id, &id, &words).await;
    assert_eq!(fake.core.last_request().path, format!("/v1/predictions/{id}"));
    assert_eq!(fake.core.last_request().header("authorization"), Some("Bearer r8_fake_token"));
}

#[tokio::test]
async fn outages_are_unavailable_and_refusals_are_rejected() {
    let (_, clock, fake) = setup().await;
    let provider = adapter("replicate", &fake.env(), &clock);
    let mut env = fake.env();
    env.push(("REPLICATE_API_BASE".into(), format!("{}/v1", closed_base().await)));
    let unreachable = adapter("replicate", &env, &clock);
    checks::failures_are_classified(
        &fake.core,
        provider.as_ref(),
        unreachable.as_ref(),
        "replicate",
    )
    .await;
}

#[tokio::test]
async fn a_missing_key_secret_or_model_stops_startup_naming_the_variable() {
    let (_, clock, fake) = setup().await;
    let required = ["REPLICATE_API_TOKEN", "REPLICATE_WEBHOOK_SECRET", "REPLICATE_MODEL"];
    checks::each_required_setting_is_named("replicate", &fake.env(), &required, &clock);
    let mut env = fake.env();
    env.push(("REPLICATE_INPUTS".into(), "human_img=$persona".into()));
    assert!(
        checks::build("replicate", &env, &clock).is_err(),
        "an unknown input source is refused at startup"
    );
}
