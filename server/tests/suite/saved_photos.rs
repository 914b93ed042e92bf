//! Saved person photos (issue 21): kept when a shopper asks, used instead of an upload, owned by
//! one account (anyone else's id is a 404 that holds nothing), spared by input retention, and
//! gone with the account.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::http_server::{Server, png};

fn upload(save: bool) -> Form {
    let form = Form::new()
        .part("person_image", Part::bytes(png(120, 160, [200, 170, 150])).file_name("me.png"))
        .text("prompt", "a red coat");
    if save { form.text("save_photo", "true") } else { form }
}

fn saved(id: &str) -> Form {
    Form::new().text("person_photo_id", id.to_owned()).text("prompt", "a blue coat")
}

pub(crate) async fn generate(
    client: &reqwest::Client,
    server: &Server,
    form: Form,
) -> (u16, Value) {
    let r = client
        .post(format!("{}/api/generations", server.base))
        .multipart(form)
        .send()
        .await
        .expect("generate");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn photos(client: &reqwest::Client, server: &Server) -> Vec<Value> {
    let r = client.get(format!("{}/api/photos", server.base)).send().await.expect("photos");
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.expect("json")["photos"].as_array().expect("photos").clone()
}

async fn a_saved_photo_is_used_instead_of_an_upload_and_only_by_its_owner(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_INPUT_RETENTION_HOURS", "0")]).await;
    server.sign_up("ann@example.com").await;
    assert!(photos(&server.http, &server).await.is_empty());
    let (status, first) = generate(&server.http, &server, upload(true)).await;
    assert_eq!(status, 202, "{first}");
    let list = photos(&server.http, &server).await;
    assert_eq!(list.len(), 1);
    let id = list[0]["id"].as_str().expect("id").to_owned();
    let url = list[0]["url"].as_str().expect("url").to_owned();
    assert_eq!(url, format!("{}/api/photos/{id}", server.base));
    let image = server.http.get(&url).send().await.expect("image");
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["cache-control"], "private, no-store");
    let bytes = image.bytes().await.expect("bytes");
    let decoded = image::load_from_memory(&bytes).expect("a picture");
    assert_eq!((decoded.width(), decoded.height()), (120, 160));

    // The first generation's inputs go at once (retention 0); the saved photo stays.
    server.wait_finished(first["id"].as_str().expect("id")).await;
    server.state.jobs.reconcile_once().await.expect("pass");
    assert_eq!(server.http.get(&url).send().await.expect("image").status(), 200);

    let (status, second) = generate(&server.http, &server, saved(&id)).await;
    assert_eq!(status, 202, "no upload needed: {second}");
    assert_eq!(
        server.wait_finished(second["id"].as_str().expect("id")).await["status"],
        "succeeded"
    );

    let bob = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&bob, "bob@example.com").await;
    assert_eq!(bob.get(&url).send().await.expect("image").status(), 404);
    let before = server.t.snapshot().await;
    let (status, body) = generate(&bob, &server, saved(&id)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    assert_eq!(server.t.snapshot().await, before, "another's photo holds nothing");
    let r = bob.delete(&url).send().await.expect("delete");
    assert_eq!(r.status(), 404);

    let both = upload(false).text("person_photo_id", id.clone());
    assert_eq!(generate(&server.http, &server, both).await.0, 400);

    let r = server.http.delete(&url).send().await.expect("delete");
    assert_eq!(r.status(), 204);
    assert!(photos(&server.http, &server).await.is_empty());
    assert_eq!(server.http.get(&url).send().await.expect("image").status(), 404);
    assert_eq!(generate(&server.http, &server, saved(&id)).await.0, 404);
    server.t.assert_verified().await;
}

async fn a_refused_generation_saves_no_photo_and_a_deleted_account_keeps_none(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_SIGNUP_CREDITS", "1")]).await;
    server.sign_up("ann@example.com").await;
    assert_eq!(generate(&server.http, &server, upload(true)).await.0, 202);
    let (status, body) = generate(&server.http, &server, upload(true)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some("insufficient_credits")));
    assert_eq!(photos(&server.http, &server).await.len(), 1, "the refused request saved nothing");

    let user = server.get_json("/api/me").await["id"].as_str().expect("id").to_owned();
    let prefix = format!("photos/{user}/");
    assert_eq!(server.state.storage.list(&prefix).await.expect("list").len(), 1);
    let r = server
        .http
        .delete(format!("{}/api/me", server.base))
        .json(&json!({"password": "correct horse battery"}))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    assert!(server.state.storage.list(&prefix).await.expect("list").is_empty());
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM saved_photos")
        .fetch_one(server.t.db.pool())
        .await
        .expect("count");
    assert_eq!(n, 0);
}

crate::on_both_databases!(
    a_saved_photo_is_used_instead_of_an_upload_and_only_by_its_owner,
    a_refused_generation_saves_no_photo_and_a_deleted_account_keeps_none,
);
