//! One conformance suite for both object stores: local disk and a real S3-compatible server
//! (s3s-fs, started by scripts/test.sh).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fitroom_server::config::S3Config;
use fitroom_server::storage::{LocalStorage, S3Storage, Storage};

async fn local() -> (Arc<dyn Storage>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    (Arc::new(LocalStorage::new(dir.path()).await.expect("local")), dir)
}

fn s3_config(secret: &str) -> S3Config {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run the suite with scripts/test.sh, which starts s3s-fs"));
    S3Config {
        endpoint: Some(var("FITROOM_TEST_S3_ENDPOINT")),
        bucket: var("FITROOM_TEST_S3_BUCKET"),
        region: "auto".into(),
        access_key_id: Some(var("FITROOM_TEST_S3_ACCESS_KEY")),
        secret_access_key: Some(secret.to_owned()),
        checksums_when_required: false,
    }
}

async fn s3() -> Arc<dyn Storage> {
    let secret = std::env::var("FITROOM_TEST_S3_SECRET_KEY").expect("FITROOM_TEST_S3_SECRET_KEY");
    Arc::new(S3Storage::new(&s3_config(&secret)).await)
}

fn key(name: &str) -> String {
    format!("test/{}/{name}", uuid::Uuid::new_v4().simple())
}

async fn objects_round_trip_with_their_content_type_and_delete(store: Arc<dyn Storage>) {
    store.health().await.expect("healthy");
    let k = key("a.png");
    store.put(&k, Bytes::from_static(b"stored bytes"), "image/png").await.expect("put");
    let got = store.get(&k).await.expect("get").expect("present");
    assert_eq!(&got.bytes[..], b"stored bytes");
    assert_eq!(got.content_type, "image/png");
    store.delete(&k).await.expect("delete");
    assert!(store.get(&k).await.expect("get").is_none());
    store.delete(&k).await.expect("deleting what is gone is fine");
    assert!(store.get(&key("never-written.png")).await.expect("get").is_none());
    assert!(store.put("../escape", Bytes::new(), "image/png").await.is_err(), "keys cannot escape");
}

async fn a_twenty_mib_object_survives_the_round_trip(store: Arc<dyn Storage>) {
    let k = key("big.bin");
    let big: Vec<u8> = (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    store.put(&k, Bytes::from(big.clone()), "application/octet-stream").await.expect("put 20 MiB");
    let got = store.get(&k).await.expect("get").expect("present");
    assert_eq!(got.bytes.len(), big.len());
    assert!(got.bytes[..] == big[..], "same bytes back");
    store.delete(&k).await.expect("delete");
}

#[tokio::test]
async fn local_objects_round_trip() {
    let (store, _dir) = local().await;
    objects_round_trip_with_their_content_type_and_delete(store).await;
}

#[tokio::test]
async fn local_large_objects_round_trip() {
    let (store, _dir) = local().await;
    a_twenty_mib_object_survives_the_round_trip(store).await;
}

#[tokio::test]
async fn s3_objects_round_trip() {
    objects_round_trip_with_their_content_type_and_delete(s3().await).await;
}

#[tokio::test]
async fn s3_large_objects_go_up_in_parts_and_round_trip() {
    a_twenty_mib_object_survives_the_round_trip(s3().await).await;
}

#[tokio::test]
async fn s3_presigned_urls_are_fetchable_over_http_and_expire() {
    let store = s3().await;
    let k = key("shared.png");
    store.put(&k, Bytes::from_static(b"presigned bytes"), "image/png").await.expect("put");
    let url = store.presign_get(&k, Duration::from_secs(60)).await.expect("presign").expect("s3 presigns");
    let body = reqwest::get(&url).await.expect("fetch").bytes().await.expect("bytes");
    assert_eq!(&body[..], b"presigned bytes");
    let short = store.presign_get(&k, Duration::from_secs(1)).await.expect("presign").expect("url");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = reqwest::get(&short).await.expect("fetch");
    assert!(expired.status().is_client_error(), "an expired link is refused: {}", expired.status());
}

#[tokio::test]
async fn s3_with_a_wrong_secret_is_unhealthy() {
    let store = S3Storage::new(&s3_config("not-the-secret")).await;
    assert!(store.health().await.is_err());
}
