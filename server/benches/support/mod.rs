//! What the benchmarks that drive a whole Fitroom share: images, a generation request, waiting
//! for its end, and the process's CPU time.

#![allow(dead_code)]

use std::io::Cursor;
use std::time::Duration;

use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// User + system CPU time of this process, from /proc (clock ticks of 10 ms).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

pub fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = RgbaImage::from_pixel(w, h, Rgba([rgb[0], rgb[1], rgb[2], 255]));
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(img).write_to(&mut out, ImageFormat::Png).expect("encode");
    out.into_inner()
}

pub async fn generate(http: &reqwest::Client, base: &str, person: &[u8], garment: &[u8]) -> String {
    let form = Form::new()
        .part("person_image", Part::bytes(person.to_vec()).file_name("me.png"))
        .part("garment_image", Part::bytes(garment.to_vec()).file_name("shirt.png"))
        .text("aspect_ratio", "3:4");
    let r = http
        .post(format!("{base}/api/generations"))
        .multipart(form)
        .send()
        .await
        .expect("generate");
    assert_eq!(r.status(), 202, "a generation is accepted");
    let g: Value = r.json().await.expect("json");
    g["id"].as_str().expect("id").to_owned()
}

pub async fn wait_finished(http: &reqwest::Client, base: &str, id: &str) -> String {
    loop {
        let g: Value = http
            .get(format!("{base}/api/generations/{id}"))
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("json");
        let status = g["status"].as_str().unwrap_or_default().to_owned();
        if matches!(status.as_str(), "succeeded" | "failed" | "canceled") {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `jobs` whole generations through the server at `base`, `concurrency` at a time, each waited
/// for until it succeeds; answers how many ran.
pub async fn run_jobs(
    base: &str,
    http: &reqwest::Client,
    person: &[u8],
    garment: &[u8],
    jobs: usize,
    concurrency: usize,
) -> usize {
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (http, base, person, garment) =
            (http.clone(), base.to_owned(), person.to_vec(), garment.to_vec());
        workers.push(tokio::spawn(async move {
            let mut done = 0;
            for _ in (w..jobs).step_by(concurrency) {
                let id = generate(&http, &base, &person, &garment).await;
                assert_eq!(wait_finished(&http, &base, &id).await, "succeeded");
                done += 1;
            }
            done
        }));
    }
    let mut done = 0;
    for w in workers {
        done += w.await.expect("worker");
    }
    done
}

/// A fresh database on the benchmark's PostgreSQL cluster.
pub async fn postgres_database(admin: &str) -> String {
    let db = fitroom_server::db::Db::connect(admin).await.expect("admin");
    let name = format!("fitroom_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(db.pool()).await.expect("create");
    db.close().await;
    let (base, _) = admin.rsplit_once('/').expect("url");
    format!("{base}/{name}")
}

/// The settings every benchmark server runs with (no delay, no limits, plenty of credits), and
/// `extra` on top.
pub fn bench_env(
    url: &str,
    data: &std::path::Path,
    extra: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let mut env: std::collections::HashMap<String, String> = [
        ("DATABASE_URL", url.to_owned()),
        ("FITROOM_DATA_DIR", data.display().to_string()),
        ("FITROOM_LOCAL_DELAY_MS", "0".into()),
        ("FITROOM_SIGNUP_CREDITS", "100000".into()),
        ("FITROOM_MAX_ACTIVE_JOBS", "0".into()),
        ("FITROOM_SUBMITS_PER_MINUTE", "0".into()),
        ("FITROOM_LOGINS_PER_MINUTE", "0".into()),
        ("FITROOM_SIGNUPS_PER_HOUR", "0".into()),
        ("FITROOM_LOG_FORMAT", "json".into()),
        ("RUST_LOG", "error".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    env
}

/// Signs up `bench@example.com` through `http` (which keeps the cookie); answers the session
/// cookie as `name=value`.
pub async fn register(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/api/auth/register"))
        .json(
            &serde_json::json!({"email": "bench@example.com", "password": "correct horse battery"}),
        )
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.split(';').next().map(str::to_owned))
        .expect("a session cookie")
}
