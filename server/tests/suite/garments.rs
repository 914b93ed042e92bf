//! Garments from a shop's product link (issue 21): the page is fetched under the output rules,
//! its product picture found and kept as the shopper's own garment, usable with `garment_id`
//! by its owner only.

use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::http_server::{Server, png};

/// A shop on loopback: a product page naming its picture with a relative `og:image`, a page
/// with none, and the picture.
pub(crate) async fn shop() -> String {
    let app = Router::new()
        .route(
            "/products/linen-shirt",
            get(|| async {
                Html(
                    r#"<!doctype html><html><head><title>Linen shirt – Shop</title>
                    <meta property="og:title" content="Green linen shirt">
                    <meta property="og:image" content="/img/shirt.png?w=800&amp;q=80">
                    </head><body><h1>Green linen shirt</h1></body></html>"#,
                )
            }),
        )
        .route(
            "/about",
            get(|| async { Html("<html><head><title>About us</title></head></html>") }),
        )
        .route(
            "/img/shirt.png",
            get(|| async {
                ([("content-type", "image/png")], png(60, 80, [30, 120, 60])).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("shop") });
    format!("http://{addr}")
}

pub(crate) async fn fetch(client: &reqwest::Client, server: &Server, url: &str) -> (u16, Value) {
    let r = client
        .post(format!("{}/api/garments/from-url", server.base))
        .json(&json!({ "url": url }))
        .send()
        .await
        .expect("from-url");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn a_product_link_becomes_the_shoppers_garment(t: TestDb) {
    let shop = shop().await;
    let server = Server::start(t, &[("FITROOM_FETCH_ALLOW_PRIVATE", "true")]).await;
    server.sign_up("ann@example.com").await;
    let (status, garment) =
        fetch(&server.http, &server, &format!("{shop}/products/linen-shirt")).await;
    assert_eq!(status, 200, "{garment}");
    assert_eq!(garment["title"], "Green linen shirt");
    let id = garment["garment_id"].as_str().expect("id").to_owned();
    let image_url = garment["image_url"].as_str().expect("url").to_owned();
    assert_eq!(image_url, format!("{}/api/garments/{id}", server.base));
    let picture = server.http.get(&image_url).send().await.expect("picture");
    assert_eq!(picture.status(), 200);
    let decoded =
        image::load_from_memory(&picture.bytes().await.expect("bytes")).expect("an image");
    assert_eq!((decoded.width(), decoded.height()), (60, 80));

    let (status, body) = fetch(&server.http, &server, &format!("{shop}/about")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("no_garment_found")));
    for bad in ["ftp://example.com/x", "not a url", "file:///etc/passwd"] {
        let (status, body) = fetch(&server.http, &server, bad).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_url")), "{bad}");
    }

    // Try it on with the garment: no garment upload.
    let form = Form::new()
        .part("person_image", Part::bytes(png(120, 160, [200, 170, 150])).file_name("me.png"))
        .text("garment_id", id.clone());
    let r = server
        .http
        .post(format!("{}/api/generations", server.base))
        .multipart(form)
        .send()
        .await
        .expect("generate");
    assert_eq!(r.status(), 202);
    let created: Value = r.json().await.expect("json");
    assert_eq!(
        server.wait_finished(created["id"].as_str().expect("id")).await["status"],
        "succeeded"
    );

    // Another shopper's garment id is not found and holds nothing.
    let bob = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&bob, "bob@example.com").await;
    assert_eq!(bob.get(&image_url).send().await.expect("picture").status(), 404);
    let before = server.t.snapshot().await;
    let form = Form::new()
        .part("person_image", Part::bytes(png(120, 160, [200, 170, 150])).file_name("me.png"))
        .text("garment_id", id.clone());
    let r = bob
        .post(format!("{}/api/generations", server.base))
        .multipart(form)
        .send()
        .await
        .expect("generate");
    assert_eq!(r.status(), 404);
    assert_eq!(server.t.snapshot().await, before);
    server.t.assert_verified().await;
}

async fn a_shop_on_a_private_address_is_refused_by_default(t: TestDb) {
    let shop = shop().await;
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let (status, body) =
        fetch(&server.http, &server, &format!("{shop}/products/linen-shirt")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_url")), "{body}");
    assert_eq!(server.t.count("garments").await, 0);
}

/// A shopper who fetched one garment, on a server keeping inputs `retention_hours`.
async fn a_shopper_with_a_garment(t: TestDb, retention_hours: &str) -> (Server, Value) {
    let shop = shop().await;
    let settings = [
        ("FITROOM_FETCH_ALLOW_PRIVATE", "true"),
        ("FITROOM_INPUT_RETENTION_HOURS", retention_hours),
    ];
    let server = Server::start(t, &settings).await;
    server.sign_up("ann@example.com").await;
    let (status, garment) =
        fetch(&server.http, &server, &format!("{shop}/products/linen-shirt")).await;
    assert_eq!(status, 200, "{garment}");
    (server, garment)
}

async fn sweep(server: &Server) -> usize {
    fitroom_server::garments::sweep_expired(&server.state).await.expect("sweep")
}

async fn a_garment_from_a_link_is_deleted_the_input_retention_after_it_was_fetched(t: TestDb) {
    let (server, garment) = a_shopper_with_a_garment(t, "6").await;
    let url = garment["image_url"].as_str().expect("url").to_owned();
    let (key,): (String,) = sqlx::query_as("SELECT storage_key FROM garments")
        .fetch_one(server.t.db.pool())
        .await
        .expect("a garment");
    let picture = |server: &Server| {
        let request = server.http.get(&url);
        async move { request.send().await.expect("picture").status().as_u16() }
    };

    server.t.clock.advance_millis(6 * 3_600_000 - 60_000);
    assert_eq!(sweep(&server).await, 0);
    assert_eq!(picture(&server).await, 200, "kept a minute before");
    server.t.clock.advance_millis(60_000);
    assert_eq!(sweep(&server).await, 1);
    assert_eq!(picture(&server).await, 404);
    assert!(server.state.storage.get(&key).await.expect("get").is_none(), "the object is gone");
    assert_eq!(server.t.count("garments").await, 0);
}

async fn with_no_input_retention_a_garment_is_still_kept_an_hour_to_try_it_on(t: TestDb) {
    let (server, _) = a_shopper_with_a_garment(t, "0").await;
    server.t.clock.advance_millis(3_600_000 - 60_000);
    assert_eq!(sweep(&server).await, 0);
    server.t.clock.advance_millis(60_000);
    assert_eq!(sweep(&server).await, 1);
}

/// A garment whose deletion keeps failing (here a key the store refuses) backs off, and never
/// keeps the sweep from the ones behind it.
async fn a_garment_that_cannot_be_deleted_does_not_hold_up_the_others(t: TestDb) {
    let (server, _) = a_shopper_with_a_garment(t, "6").await;
    let (user,): (String,) = sqlx::query_as("SELECT user_id FROM garments")
        .fetch_one(server.t.db.pool())
        .await
        .expect("a garment");
    // Older than the real one, so the sweep meets it first.
    sqlx::query(
        "INSERT INTO garments (id, user_id, storage_key, content_type, source_url, created_at) \
         VALUES ('gar_unlucky', $1, '../unlucky.png', 'image/png', 'https://shop.example', 0)",
    )
    .bind(&user)
    .execute(server.t.db.pool())
    .await
    .expect("insert");
    server.t.clock.advance_millis(6 * 3_600_000);
    assert_eq!(sweep(&server).await, 1, "the real garment went");
    let left: (String, i64) = sqlx::query_as("SELECT id, sweep_failures FROM garments")
        .fetch_one(server.t.db.pool())
        .await
        .expect("the unlucky one is left");
    assert_eq!(left, ("gar_unlucky".to_owned(), 1));
    assert_eq!(sweep(&server).await, 0, "backing off: not tried again at once");
    let (failures,): (i64,) = sqlx::query_as("SELECT sweep_failures FROM garments")
        .fetch_one(server.t.db.pool())
        .await
        .expect("row");
    assert_eq!(failures, 1);
    server.t.clock.advance_millis(61_000);
    assert_eq!(sweep(&server).await, 0);
    let (failures,): (i64,) = sqlx::query_as("SELECT sweep_failures FROM garments")
        .fetch_one(server.t.db.pool())
        .await
        .expect("row");
    assert_eq!(failures, 2, "tried again once its back-off passed");
}

crate::on_both_databases!(
    a_garment_that_cannot_be_deleted_does_not_hold_up_the_others,
    a_product_link_becomes_the_shoppers_garment,
    a_shop_on_a_private_address_is_refused_by_default,
    a_garment_from_a_link_is_deleted_the_input_retention_after_it_was_fetched,
    with_no_input_retention_a_garment_is_still_kept_an_hour_to_try_it_on,
);
