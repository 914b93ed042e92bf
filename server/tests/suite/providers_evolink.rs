//! The `evolink` adapter against a fake Evolink: image-edit generations with a `callback_url`,
//! unsigned callbacks proved only by the callback URL's token, status words.

use std::sync::Arc;

use fitroom_server::clock::{ManualClock, SharedClock};
use fitroom_server::providers::{Authenticity, Provider, TaskState, WebhookError};

use crate::common::START;
use crate::fakes::checks::{self, Expect, TOKEN, adapter, task};
use crate::fakes::evolink::FakeEvolink;
use crate::fakes::{Protocol, closed_base};

async fn setup() -> (SharedClock, Arc<dyn Provider>, Arc<FakeEvolink>) {
    let clock: SharedClock = Arc::new(ManualClock::at(START));
    let fake = FakeEvolink::start(clock.clone()).await;
    let provider = adapter("evolink", &fake.env(), &clock);
    (clock, provider, fake)
}

#[tokio::test]
async fn a_generation_sends_both_images_an_instruction_and_the_callback_url() {
    let (_, provider, fake) = setup().await;

    let id = provider.submit(&task("evolink")).await.expect("accepted");

    let request = fake.core.last_request();
    assert_eq!(request.path, "/v1/images/generations");
    assert_eq!(request.header("authorization"), Some("Bearer sk-evolink-fake"));
    assert_eq!(request.body["model"], "gemini-2.5-flash-image");
    assert_eq!(request.body["callback_url"], task("evolink").callback_url);
    assert_eq!(
        request.body["image_urls"],
        serde_json::json!([
            "https://fitroom.example/files/person.png?sig=1",
            "https://fitroom.example/files/garment.png?sig=2"
        ])
    );
    assert_eq!(request.body["size"], "3:4");
    let prompt = request.body["prompt"].as_str().expect("an instruction");
    assert!(prompt.contains("a blue linen shirt"), "{prompt}");
    assert!(fake.core.task(&id).is_some());
}

#[tokio::test]
async fn a_callback_is_believed_only_through_its_token_and_a_fetch() {
    let (clock, provider, fake) = setup().await;
    let id = provider.submit(&task("evolink")).await.expect("accepted");
    fake.core.succeed(&id, "completed");

    let delivery = fake.webhook(&id);
    let event = provider
        .parse_webhook(&delivery.headers, delivery.query(), &delivery.body, clock.now())
        .await
        .expect("readable");

    assert_eq!(event.task_id, id);
    assert_eq!(event.authenticity, Authenticity::Token(TOKEN.into()));
    assert_eq!(
        provider.fetch(&id).await.expect("task"),
        TaskState::Succeeded {
            outputs: vec![format!("{}/outputs/{id}.png", fake.core.base)],
            cost: None
        }
    );
    let without_token =
        provider.parse_webhook(&delivery.headers, None, &delivery.body, clock.now()).await;
    assert!(matches!(without_token, Err(WebhookError::BadSignature(_))));
}

#[tokio::test]
async fn fetch_maps_every_status_word() {
    let (_, provider, fake) = setup().await;
    let id = provider.submit(&task("evolink")).await.expect("accepted");
    let words = [
        ("pending", Expect::Pending),
        ("processing", Expect::Pending),
        ("completed", Expect::Succeeded),
        ("failed", Expect::Failed),
        ("cancelled", Expect::Failed),
    ];
    checks::fetch_maps_every_word(&fake.core, provider.as_ref(), &id, &id, &words).await;
    assert_eq!(fake.core.last_request().path, format!("/v1/tasks/{id}"));
}

#[tokio::test]
async fn outages_are_unavailable_and_refusals_are_rejected() {
    let (clock, provider, fake) = setup().await;
    let mut env = fake.env();
    env.push(("EVOLINK_API_BASE".into(), closed_base().await));
    let unreachable = adapter("evolink", &env, &clock);
    checks::failures_are_classified(&fake.core, provider.as_ref(), unreachable.as_ref(), "evolink")
        .await;
}

#[tokio::test]
async fn a_missing_key_or_model_stops_startup_naming_the_variable() {
    let (clock, _, fake) = setup().await;
    checks::each_required_setting_is_named(
        "evolink",
        &fake.env(),
        &["EVOLINK_API_KEY", "EVOLINK_MODEL"],
        &clock,
    );
}
