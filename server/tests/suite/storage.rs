//! One conformance suite for both object stores: local disk and a real S3-compatible server
//! (s3s-fs, started by scripts/test.sh).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fitroom_server::config::S3Config;
use fitroom_server::storage::{
    ByteRange, ByteStream, LocalStorage, Read, S3_PART_SIZE, S3Storage, Span, Storage, StorageError,
};
use futures_util::StreamExt;

use crate::fakes::s3_recorder::{S3Call, S3Recorder};

async fn local() -> (Arc<dyn Storage>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    (Arc::new(LocalStorage::new(dir.path()).await.expect("local")), dir)
}

fn s3_config(secret: &str) -> S3Config {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: run the suite with scripts/test.sh, which starts s3s-fs")
        })
    };
    S3Config {
        endpoint: Some(var("FITROOM_TEST_S3_ENDPOINT")),
        bucket: var("FITROOM_TEST_S3_BUCKET"),
        region: "auto".into(),
        access_key_id: Some(var("FITROOM_TEST_S3_ACCESS_KEY")),
        secret_access_key: Some(secret.to_owned()),
        checksums_when_required: false,
        timeout_secs: 60,
    }
}

fn s3_secret() -> String {
    std::env::var("FITROOM_TEST_S3_SECRET_KEY").expect("FITROOM_TEST_S3_SECRET_KEY")
}

async fn s3() -> Arc<dyn Storage> {
    Arc::new(S3Storage::new(&s3_config(&s3_secret())).await)
}

/// The S3 store, talking to the server through a proxy that notes every request.
async fn recorded_s3() -> (Arc<dyn Storage>, S3Recorder) {
    let mut config = s3_config(&s3_secret());
    let recorder = S3Recorder::start(config.endpoint.as_deref().expect("endpoint")).await;
    config.endpoint = Some(recorder.endpoint.clone());
    (Arc::new(S3Storage::new(&config).await), recorder)
}

/// A 20 MiB object went up as one multipart upload of whole parts in order (the last may be
/// shorter), never in one piece.
fn assert_sent_in_bounded_parts(calls: &[S3Call]) {
    let parts: Vec<usize> = calls.iter().filter(|c| c.is_upload_part()).map(|c| c.sent).collect();
    assert_eq!(calls.iter().filter(|c| c.is_create_multipart()).count(), 1, "{calls:?}");
    let total = 20 * 1024 * 1024;
    let mut expected = vec![S3_PART_SIZE; total / S3_PART_SIZE];
    if total % S3_PART_SIZE > 0 {
        expected.push(total % S3_PART_SIZE);
    }
    assert_eq!(parts, expected);
    assert_eq!(calls.iter().filter(|c| c.is_complete_multipart()).count(), 1, "{calls:?}");
    assert!(
        calls.iter().all(|c| c.sent <= S3_PART_SIZE + 64 * 1024),
        "no request carries more than a part: {:?}",
        calls.iter().map(|c| c.sent).collect::<Vec<_>>()
    );
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

fn twenty_mib() -> Vec<u8> {
    (0..20 * 1024 * 1024).map(|i| (i % 251) as u8).collect()
}

/// `bytes` in chunks of `size`, the way a download arrives.
fn chunked(bytes: &[u8], size: usize) -> ByteStream {
    let chunks: Vec<_> = bytes.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures_util::stream::iter(chunks).boxed()
}

async fn a_twenty_mib_object_survives_the_round_trip(store: Arc<dyn Storage>) {
    let k = key("big.bin");
    let big = twenty_mib();
    store.put(&k, Bytes::from(big.clone()), "application/octet-stream").await.expect("put 20 MiB");
    let got = store.get(&k).await.expect("get").expect("present");
    assert_eq!(got.bytes.len(), big.len());
    assert!(got.bytes[..] == big[..], "same bytes back");
    store.delete(&k).await.expect("delete");
}

async fn a_twenty_mib_stream_of_small_chunks_is_stored_whole(store: Arc<dyn Storage>) {
    let k = key("streamed.png");
    let big = twenty_mib();
    let len =
        store.put_stream(&k, chunked(&big, 16 * 1024 + 3), "image/png").await.expect("streamed");
    assert_eq!(len, big.len() as u64);
    let got = store.get(&k).await.expect("get").expect("present");
    assert!(got.bytes[..] == big[..], "same bytes back");
    assert_eq!(got.content_type, "image/png");
    store.delete(&k).await.expect("delete");
}

async fn a_stream_that_breaks_off_leaves_nothing_under_its_key(store: Arc<dyn Storage>) {
    // Small (one request) and past the first part (a multipart upload on S3).
    for sent in [1_000, 9 * 1024 * 1024] {
        let k = key("broken.png");
        let body = chunked(&vec![7u8; sent], 64 * 1024)
            .chain(futures_util::stream::once(async { Err("the provider hung up".into()) }))
            .boxed();
        let err = store
            .put_stream(&k, body, "image/png")
            .await
            .expect_err("a broken stream is not stored");
        assert!(
            matches!(&err, StorageError::Body(e) if e.to_string() == "the provider hung up"),
            "{err:?}"
        );
        assert!(
            store.get(&k).await.expect("get").is_none(),
            "nothing under the key after {sent} bytes"
        );
    }
}

async fn a_stream_of_declared_length_is_stored_whole(store: Arc<dyn Storage>) {
    let k = key("declared.png");
    let big = twenty_mib();
    let len = store
        .put_stream_of_len(&k, chunked(&big, 16 * 1024 + 3), big.len() as u64, "image/png")
        .await
        .expect("streamed");
    assert_eq!(len, big.len() as u64);
    let got = store.get(&k).await.expect("get").expect("present");
    assert!(got.bytes[..] == big[..], "same bytes back");
    assert_eq!(got.content_type, "image/png");
    store.delete(&k).await.expect("delete");
}

async fn a_stream_that_breaks_its_declared_length_leaves_nothing(store: Arc<dyn Storage>) {
    let declared = 2 * 1024 * 1024;
    for (sent, why) in [
        (declared / 2, format!("the source declared {declared} bytes and sent {}", declared / 2)),
        (declared + 1, format!("the source declared {declared} bytes and sent {}", declared + 1)),
    ] {
        let k = key("lying.png");
        let body = chunked(&vec![5u8; sent], 64 * 1024);
        let err = store
            .put_stream_of_len(&k, body, declared as u64, "image/png")
            .await
            .expect_err("a stream that is not the length it declared is not stored");
        assert!(matches!(&err, StorageError::Body(e) if e.to_string() == why), "{err:?}");
        assert!(store.get(&k).await.expect("get").is_none(), "nothing under the key ({sent})");
    }
    // The source's own failure comes back unchanged, for the mirror to tell why.
    let k = key("broken-declared.png");
    let body = chunked(&vec![7u8; 1_000_000], 64 * 1024)
        .chain(futures_util::stream::once(async { Err("the provider hung up".into()) }))
        .boxed();
    let err = store.put_stream_of_len(&k, body, 2_000_000, "image/png").await.expect_err("broken");
    assert!(
        matches!(&err, StorageError::Body(e) if e.to_string() == "the provider hung up"),
        "{err:?}"
    );
    assert!(store.get(&k).await.expect("get").is_none());
}

async fn read_range(store: &dyn Storage, k: &str, range: ByteRange) -> Read {
    store.read(k, Some(range)).await.expect("read")
}

async fn body_of(read: Read) -> (Span, u64, Vec<u8>) {
    let Read::Found(mut object) = read else { panic!("expected the object") };
    let mut bytes = Vec::new();
    while let Some(chunk) = object.body.next().await {
        bytes.extend_from_slice(&chunk.expect("chunk"));
    }
    (object.span, object.len, bytes)
}

async fn ranges_read_only_the_asked_for_bytes(store: Arc<dyn Storage>) {
    let k = key("ranged.png");
    let all: Vec<u8> = (0..100u8).collect();
    store.put(&k, Bytes::from(all.clone()), "image/png").await.expect("put");
    let cases = [
        (ByteRange::FromTo { first: 10, last: 19 }, 10..20),
        (ByteRange::FromTo { first: 90, last: 500 }, 90..100),
        (ByteRange::From { first: 95 }, 95..100),
        (ByteRange::Last { n: 5 }, 95..100),
        (ByteRange::Last { n: 500 }, 0..100),
    ];
    for (range, expected) in cases {
        let (span, len, bytes) = body_of(read_range(store.as_ref(), &k, range).await).await;
        assert_eq!(
            (span.start, span.end, len),
            (expected.start as u64, expected.end as u64, 100),
            "{range:?}"
        );
        assert_eq!(bytes, all[expected].to_vec(), "{range:?}");
    }
    let (span, len, bytes) = body_of(store.read(&k, None).await.expect("read")).await;
    assert_eq!((span, len, bytes), (Span::whole(100), 100, all));
    assert!(matches!(
        read_range(store.as_ref(), &k, ByteRange::From { first: 100 }).await,
        Read::Unsatisfiable { len: 100 }
    ));
    assert!(matches!(
        read_range(store.as_ref(), &key("absent.png"), ByteRange::From { first: 0 }).await,
        Read::Missing
    ));
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
async fn local_streams_of_small_chunks_are_stored_whole() {
    let (store, _dir) = local().await;
    a_twenty_mib_stream_of_small_chunks_is_stored_whole(store).await;
}

#[tokio::test]
async fn local_broken_streams_leave_nothing() {
    let (store, dir) = local().await;
    a_stream_that_breaks_off_leaves_nothing_under_its_key(store).await;
    assert_eq!(
        std::fs::read_dir(dir.path().join(".tmp")).expect("tmp").count(),
        0,
        "no temporary file left"
    );
}

#[tokio::test]
async fn local_streams_of_declared_length_are_stored_whole_or_not_at_all() {
    let (store, _dir) = local().await;
    a_stream_of_declared_length_is_stored_whole(store.clone()).await;
    a_stream_that_breaks_its_declared_length_leaves_nothing(store).await;
}

#[tokio::test]
async fn local_ranges() {
    let (store, _dir) = local().await;
    ranges_read_only_the_asked_for_bytes(store).await;
}

#[tokio::test]
async fn s3_streams_of_small_chunks_go_up_in_bounded_parts() {
    let (store, recorder) = recorded_s3().await;
    a_twenty_mib_stream_of_small_chunks_is_stored_whole(store).await;
    assert_sent_in_bounded_parts(&recorder.take());
}

/// A download that declared its length goes up as it arrives, in one PutObject: no parts to
/// fill, so the download never waits for the store.
#[tokio::test]
async fn s3_streams_of_declared_length_go_up_in_one_request() {
    let (store, recorder) = recorded_s3().await;
    a_stream_of_declared_length_is_stored_whole(store).await;
    let calls = recorder.take();
    assert_eq!(calls.iter().filter(|c| c.is_put_object()).count(), 1, "{calls:?}");
    assert!(!calls.iter().any(|c| c.is_create_multipart() || c.is_upload_part()), "{calls:?}");
}

#[tokio::test]
async fn s3_streams_that_break_their_declared_length_leave_nothing() {
    a_stream_that_breaks_its_declared_length_leaves_nothing(s3().await).await;
}

#[tokio::test]
async fn s3_broken_streams_leave_nothing() {
    a_stream_that_breaks_off_leaves_nothing_under_its_key(s3().await).await;
}

#[tokio::test]
async fn s3_ranges_are_passed_to_get_object() {
    let (store, recorder) = recorded_s3().await;
    ranges_read_only_the_asked_for_bytes(store.clone()).await;
    recorder.take();
    // On the wire: the range travels with the GetObject, and only its bytes come back.
    let k = key("wire.png");
    store.put(&k, Bytes::from(vec![9u8; 100_000]), "image/png").await.expect("put");
    for (range, expected_len) in [
        (ByteRange::FromTo { first: 10, last: 19 }, 10),
        (ByteRange::From { first: 99_000 }, 1_000),
        (ByteRange::Last { n: 500 }, 500),
    ] {
        recorder.take();
        let (_, _, bytes) = body_of(read_range(store.as_ref(), &k, range).await).await;
        assert_eq!(bytes.len(), expected_len, "{range:?}");
        let gets: Vec<S3Call> = recorder.take().into_iter().filter(S3Call::is_get).collect();
        assert_eq!(gets.len(), 1, "one GetObject for {range:?}: {gets:?}");
        assert!(gets[0].range.as_deref().is_some_and(|r| r.starts_with("bytes=")), "{gets:?}");
        assert_eq!((gets[0].status, gets[0].received), (206, expected_len), "{range:?}");
    }
    store.delete(&k).await.expect("delete");
}

#[tokio::test]
async fn s3_objects_round_trip() {
    objects_round_trip_with_their_content_type_and_delete(s3().await).await;
}

#[tokio::test]
async fn s3_large_objects_go_up_in_parts_and_round_trip() {
    let (store, recorder) = recorded_s3().await;
    a_twenty_mib_object_survives_the_round_trip(store).await;
    assert_sent_in_bounded_parts(&recorder.take());
}

#[tokio::test]
async fn s3_presigned_urls_are_fetchable_over_http_and_expire() {
    let store = s3().await;
    let k = key("shared.png");
    store.put(&k, Bytes::from_static(b"presigned bytes"), "image/png").await.expect("put");
    let url = store
        .presign_get(&k, Duration::from_secs(60))
        .await
        .expect("presign")
        .expect("s3 presigns");
    let body = reqwest::get(&url).await.expect("fetch").bytes().await.expect("bytes");
    assert_eq!(&body[..], b"presigned bytes");
    let short = store.presign_get(&k, Duration::from_secs(1)).await.expect("presign").expect("url");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = reqwest::get(&short).await.expect("fetch");
    assert!(expired.status().is_client_error(), "an expired link is refused: {}", expired.status());
}

/// A store that accepts connections and never answers: every call still ends, as a failure.
#[tokio::test]
async fn s3_that_stops_answering_fails_within_its_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // read nothing, answer nothing
        }
    });
    let mut config = s3_config(&s3_secret());
    config.endpoint = Some(endpoint);
    config.timeout_secs = 2;
    let store = S3Storage::new(&config).await;
    let checked = tokio::time::timeout(Duration::from_secs(60), store.health()).await;
    assert!(matches!(checked, Ok(Err(_))), "the call ended with an error: {checked:?}");
    let put = tokio::time::timeout(
        Duration::from_secs(60),
        store.put(&key("stalled.png"), Bytes::from_static(b"x"), "image/png"),
    )
    .await;
    assert!(matches!(put, Ok(Err(_))), "{put:?}");
    silent.abort();
}

#[tokio::test]
async fn s3_with_a_wrong_secret_is_unhealthy() {
    let store = S3Storage::new(&s3_config("not-the-secret")).await;
    assert!(store.health().await.is_err());
}
