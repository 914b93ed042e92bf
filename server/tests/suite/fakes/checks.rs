//! What every adapter must do against its fake, written once: build it from settings, classify
//! failures, and map every status word its provider uses.

use std::collections::HashMap;
use std::sync::Arc;

use fitroom_server::Config;
use fitroom_server::clock::SharedClock;
use fitroom_server::ids::JobId;
use fitroom_server::providers::{
    Provider, Registry, RegistryError, SubmitError, TaskInput, TaskState,
};
use fitroom_server::signing::Signer;

use super::Core;

pub const JOB: &str = "job_0001";
pub const TOKEN: &str = "5ecret0token";

/// The adapter `name`, built by the registry from `settings` exactly as at startup.
pub fn build(
    name: &str,
    settings: &[(String, String)],
    clock: &SharedClock,
) -> Result<Arc<dyn Provider>, RegistryError> {
    let mut env: HashMap<String, String> = settings.iter().cloned().collect();
    env.insert("FITROOM_PROVIDERS".into(), name.into());
    let config = Config::from_source(&env).expect("config");
    let (registry, _) = Registry::build(&config, &Signer::from_key([5; 32]), clock)?;
    Ok(registry.get(name).expect("enabled").clone())
}

pub fn adapter(
    name: &str,
    settings: &[(String, String)],
    clock: &SharedClock,
) -> Arc<dyn Provider> {
    build(name, settings, clock).expect("adapter builds")
}

/// A try-on as `jobs::submit` hands it over; the callback carries the job and its token.
pub fn task(provider: &str) -> TaskInput {
    TaskInput {
        job: JobId::from_string(String::from(JOB)),
        person_image_url: "https://fitroom.example/files/person.png?sig=1".into(),
        garment_image_url: Some("https://fitroom.example/files/garment.png?sig=2".into()),
        prompt: Some("a blue linen shirt".into()),
        aspect_ratio: Some("3:4".into()),
        callback_url: format!(
            "https://fitroom.example/webhooks/{provider}?job={JOB}&token={TOKEN}"
        ),
    }
}

/// 5xx, 429 and an unreachable host are outages (failover moves on); other 4xx are refusals.
pub async fn failures_are_classified(
    core: &Core,
    provider: &dyn Provider,
    unreachable: &dyn Provider,
    name: &str,
) {
    for status in [500, 502, 503, 429] {
        core.fail_with(status);
        let result = provider.submit(&task(name)).await;
        assert!(matches!(result, Err(SubmitError::Unavailable(_))), "{status}: {result:?}");
    }
    for status in [400, 401, 402, 422] {
        core.fail_with(status);
        let result = provider.submit(&task(name)).await;
        assert!(matches!(result, Err(SubmitError::Rejected(_))), "{status}: {result:?}");
    }
    let result = unreachable.submit(&task(name)).await;
    assert!(matches!(result, Err(SubmitError::Unavailable(_))), "connection refused: {result:?}");
}

#[derive(Clone, Copy, Debug)]
pub enum Expect {
    Pending,
    Succeeded,
    Failed,
}

/// Puts the task in each status word the provider uses and checks what `fetch` makes of it.
pub async fn fetch_maps_every_word(
    core: &Core,
    provider: &dyn Provider,
    stored_id: &str,
    task_id: &str,
    words: &[(&str, Expect)],
) {
    for &(word, expect) in words {
        match expect {
            Expect::Succeeded => core.succeed(task_id, word),
            Expect::Failed => core.fail(task_id, word, "the garment could not be read"),
            Expect::Pending => core.set_status(task_id, word),
        }
        let state = provider.fetch(stored_id).await.unwrap_or_else(|e| panic!("{word}: {e}"));
        match (expect, &state) {
            (Expect::Pending, TaskState::Pending) | (Expect::Failed, TaskState::Failed { .. }) => {}
            (Expect::Succeeded, TaskState::Succeeded { outputs, .. }) => {
                assert_eq!(
                    outputs,
                    &vec![format!("{}/outputs/{task_id}.png", core.base)],
                    "{word}"
                );
            }
            _ => panic!("{word}: expected {expect:?}, got {state:?}"),
        }
    }
}

/// Without a required setting the adapter does not start, and the error names the variable.
pub fn each_required_setting_is_named(
    name: &str,
    settings: &[(String, String)],
    required: &[&str],
    clock: &SharedClock,
) {
    for variable in required {
        let without: Vec<_> = settings.iter().filter(|(k, _)| k != variable).cloned().collect();
        match build(name, &without, clock) {
            Err(RegistryError::MissingSetting { variable: missing, .. }) => {
                assert_eq!(&missing, variable)
            }
            Err(other) => panic!("without {variable}: {other}"),
            Ok(_) => panic!("started without {variable}"),
        }
    }
}
