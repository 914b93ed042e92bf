//! The result route serves the stored image to its owner as docs/api.md and RFC 9110 say: strong
//! ETag, private caching, single byte ranges (206 / 416), and `If-Range` / `If-None-Match`.

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
    IF_RANGE, RANGE,
};

use crate::common::TestDb;
use crate::http_server::Server;

/// A finished generation: its result URL and the whole image as served.
async fn finished_result(server: &Server) -> (String, Vec<u8>, String) {
    server.sign_up("ann@example.com").await;
    let (_, created) = server.generate(None).await;
    let done = server.wait_finished(created["id"].as_str().expect("id")).await;
    let url = done["result_url"].as_str().expect("result_url").to_owned();
    let whole = server.http.get(&url).send().await.expect("result");
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()[ACCEPT_RANGES], "bytes");
    let etag = whole.headers()[ETAG].to_str().expect("etag").to_owned();
    assert!(etag.starts_with('"'), "a strong tag: {etag}");
    (url, whole.bytes().await.expect("bytes").to_vec(), etag)
}

async fn get_with(
    server: &Server,
    url: &str,
    headers: &[(reqwest::header::HeaderName, &str)],
) -> reqwest::Response {
    let mut request = server.http.get(url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    request.send().await.expect("request")
}

async fn single_byte_ranges_are_served_as_partial_content(t: TestDb) {
    let server = Server::start(t, &[]).await;
    let (url, whole, etag) = finished_result(&server).await;
    let n = whole.len();
    let cases = [
        ("bytes=0-9", 0..10),
        ("bytes=10-", 10..n),
        ("bytes=-16", n - 16..n),
        ("bytes=5-999999999", 5..n),
    ];
    for (range, expected) in cases {
        let r = get_with(&server, &url, &[(RANGE, range)]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        let h = r.headers().clone();
        assert_eq!(
            h[CONTENT_RANGE],
            format!("bytes {}-{}/{n}", expected.start, expected.end - 1).as_str(),
            "{range}"
        );
        assert_eq!(h[CONTENT_LENGTH], expected.len().to_string().as_str(), "{range}");
        assert_eq!(h[CONTENT_TYPE], "image/png");
        assert_eq!(h[ETAG], etag.as_str(), "the same tag as the whole image");
        assert!(h[CACHE_CONTROL].to_str().expect("ascii").starts_with("private"));
        assert_eq!(r.bytes().await.expect("bytes").to_vec(), whole[expected].to_vec(), "{range}");
    }
}

async fn a_range_past_the_end_is_unsatisfiable(t: TestDb) {
    let server = Server::start(t, &[]).await;
    let (url, whole, _) = finished_result(&server).await;
    let r = get_with(&server, &url, &[(RANGE, &format!("bytes={}-", whole.len()))]).await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()[CONTENT_RANGE], format!("bytes */{}", whole.len()).as_str());
}

async fn ranges_the_server_may_ignore_get_the_whole_image(t: TestDb) {
    let server = Server::start(t, &[]).await;
    let (url, whole, etag) = finished_result(&server).await;
    let stale = [(RANGE, "bytes=0-9"), (IF_RANGE, "\"an-older-version\"")];
    let date = [(RANGE, "bytes=0-9"), (IF_RANGE, "Wed, 21 Oct 2015 07:28:00 GMT")];
    for headers in
        [&[(RANGE, "bytes=0-1,5-6")][..], &[(RANGE, "lines=1-2")][..], &stale[..], &date[..]]
    {
        let r = get_with(&server, &url, headers).await;
        assert_eq!(r.status(), StatusCode::OK, "{headers:?}");
        assert_eq!(r.bytes().await.expect("bytes").to_vec(), whole);
    }
    let current = get_with(&server, &url, &[(RANGE, "bytes=0-9"), (IF_RANGE, &etag)]).await;
    assert_eq!(current.status(), StatusCode::PARTIAL_CONTENT, "If-Range with the current tag");
}

async fn a_client_with_the_current_copy_gets_not_modified(t: TestDb) {
    let server = Server::start(t, &[]).await;
    let (url, _, etag) = finished_result(&server).await;
    let r = get_with(&server, &url, &[(IF_NONE_MATCH, &format!("\"other\", {etag}"))]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()[ETAG], etag.as_str());
    assert!(r.bytes().await.expect("body").is_empty());
}

async fn another_shopper_gets_404_even_for_a_range(t: TestDb) {
    let server = Server::start(t, &[]).await;
    let (url, _, _) = finished_result(&server).await;
    let other = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&other, "bob@example.com").await;
    let r = other.get(&url).header(RANGE, "bytes=0-9").send().await.expect("request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

crate::on_both_databases!(
    single_byte_ranges_are_served_as_partial_content,
    a_range_past_the_end_is_unsatisfiable,
    ranges_the_server_may_ignore_get_the_whole_image,
    a_client_with_the_current_copy_gets_not_modified,
    another_shopper_gets_404_even_for_a_range,
);
