//! Bad uploads are refused with their documented error and write nothing; accepted photos lose
//! their metadata (GPS positions in phone photos are personal data).

use std::io::Cursor;

use image::{DynamicImage, ImageFormat};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::common::TestDb;
use crate::http_server::{Server, png};

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG whose header claims `width`×`height` at `depth` bits in colour type `colour`, with a
/// first tiny data chunk so that a decoder reaches the point where it knows the size: what a
/// decompression bomb looks like before it inflates.
pub fn png_claiming(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(&idat);
    out.extend_from_slice(&crc32(&idat).to_be_bytes());
    out
}

fn pixel_bomb() -> Vec<u8> {
    png_claiming(50_000, 50_000, 8, 2)
}

const GPS_SECRET: &[u8] = b"FITROOM-GPS-47.3769N-8.5417E";

/// A JPEG carrying an EXIF block with a GPS IFD, as phones write them.
fn jpeg_with_gps() -> Vec<u8> {
    let mut jpeg = Cursor::new(Vec::new());
    DynamicImage::new_rgb8(64, 80).write_to(&mut jpeg, ImageFormat::Jpeg).expect("encode");
    let jpeg = jpeg.into_inner();
    // TIFF (little endian): IFD0 with a GPS pointer; the GPS IFD with a processing-method blob.
    let mut tiff = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes()); // IFD0: one entry
    tiff.extend_from_slice(&0x8825u16.to_le_bytes()); // GPSInfo pointer
    tiff.extend_from_slice(&4u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&26u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes()); // GPS IFD at 26: one entry
    tiff.extend_from_slice(&0x001bu16.to_le_bytes()); // GPSProcessingMethod
    tiff.extend_from_slice(&7u16.to_le_bytes());
    tiff.extend_from_slice(&(GPS_SECRET.len() as u32).to_le_bytes());
    tiff.extend_from_slice(&44u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(GPS_SECRET);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub async fn post(server: &Server, form: Form) -> (u16, Value) {
    let r = server
        .http
        .post(format!("{}/api/generations", server.base))
        .multipart(form)
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn every_bad_upload_gets_its_error_and_writes_nothing(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let garment = || Part::bytes(png(20, 20, [1, 2, 3])).file_name("g.png");
    let person = |bytes: Vec<u8>| Part::bytes(bytes).file_name("me.png");
    let full = png(64, 64, [9, 9, 9]);
    let cases: Vec<(&str, Form, u16, &str)> = vec![
        (
            "a GIF",
            Form::new()
                .part("person_image", person(b"GIF89a\x01\x00\x01\x00".to_vec()))
                .part("garment_image", garment()),
            415,
            "unsupported_media_type",
        ),
        (
            "a text file named .png",
            Form::new()
                .part("person_image", person(b"hello".to_vec()))
                .part("garment_image", garment()),
            415,
            "unsupported_media_type",
        ),
        (
            "a truncated PNG",
            Form::new()
                .part("person_image", person(full[..full.len() / 2].to_vec()))
                .part("garment_image", garment()),
            400,
            "invalid_request",
        ),
        (
            "a pixel bomb",
            Form::new().part("person_image", person(pixel_bomb())).part("garment_image", garment()),
            413,
            "payload_too_large",
        ),
        (
            "over 25 MiB",
            Form::new()
                .part("person_image", person(vec![0xFF; 26 * 1024 * 1024]))
                .part("garment_image", garment()),
            413,
            "payload_too_large",
        ),
        ("no photo", Form::new().part("garment_image", garment()), 400, "invalid_request"),
        (
            "neither garment nor description",
            Form::new().part("person_image", person(full.clone())),
            400,
            "invalid_request",
        ),
        (
            "an unknown provider",
            Form::new()
                .part("person_image", person(full.clone()))
                .text("prompt", "a coat")
                .text("provider", "nope"),
            422,
            "unknown_provider",
        ),
        (
            "a bad aspect ratio",
            Form::new()
                .part("person_image", person(full.clone()))
                .text("prompt", "a coat")
                .text("aspect_ratio", "wide"),
            400,
            "invalid_request",
        ),
    ];
    for (what, form, status, code) in cases {
        let (got_status, body) = post(&server, form).await;
        assert_eq!(
            (got_status, body["error"]["code"].as_str().unwrap_or_default()),
            (status, code),
            "{what}: {body}"
        );
    }
    let not_multipart = server
        .http
        .post(format!("{}/api/generations", server.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(not_multipart.status(), 415);
    assert_eq!(server.t.count("jobs").await, 0);
    assert_eq!(server.t.count("holds").await, 0);
    assert_eq!(server.credits().await, (3, 0));
}

async fn gps_tags_are_gone_from_what_is_stored_and_sent(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let photo = jpeg_with_gps();
    assert!(
        contains(&photo, b"Exif\0\0") && contains(&photo, GPS_SECRET),
        "the test photo carries GPS"
    );
    let form = Form::new()
        .part("person_image", Part::bytes(photo).file_name("IMG_0001.jpg"))
        .text("prompt", "a coat");
    let (status, created) = post(&server, form).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().expect("id");
    let stored = server
        .state
        .storage
        .get(&format!("inputs/{id}/person.jpg"))
        .await
        .expect("get")
        .expect("the photo is stored");
    assert!(!contains(&stored.bytes, b"Exif"), "no EXIF block is kept");
    assert!(!contains(&stored.bytes, GPS_SECRET), "no GPS data is kept");
    assert_eq!(stored.content_type, "image/jpeg");
    image::load_from_memory(&stored.bytes).expect("still a valid photo");
    // What the provider fetches is this same stored object, through a signed link.
    let done = server.wait_finished(id).await;
    assert_eq!(done["status"], "succeeded");
}

crate::on_both_databases!(
    every_bad_upload_gets_its_error_and_writes_nothing,
    gps_tags_are_gone_from_what_is_stored_and_sent
);
