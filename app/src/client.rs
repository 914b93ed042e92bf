//! The browser's REST client: the few calls the islands make to the JSON API (docs/api.md),
//! reading the same `fitroom_types` the server writes. Only the wasm build ever calls it.

use fitroom_types::{ErrorBody, FetchedGarment, Generation, Me};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why a call failed, as the page shows it: the API's code and message, or `network`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl Failure {
    fn network(message: &str) -> Self {
        Failure { code: "network".into(), message: message.into() }
    }
}

const UNEXPECTED: &str = "Unexpected answer.";

async fn send(request: web_sys::Request) -> Result<(u16, String), Failure> {
    let window = web_sys::window().ok_or_else(|| Failure::network("No browser window."))?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| {
            Failure::network("Could not reach Fitroom. Check your connection and try again.")
        })?
        .dyn_into()
        .map_err(|_| Failure::network(UNEXPECTED))?;
    let text = JsFuture::from(response.text().map_err(|_| Failure::network(UNEXPECTED))?)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .unwrap_or_default();
    Ok((response.status(), text))
}

/// A 2xx body as `T`, or the API's own error.
fn answer<T: DeserializeOwned>(status: u16, text: &str) -> Result<T, Failure> {
    if (200..300).contains(&status) {
        return serde_json::from_str(text).map_err(|_| Failure::network(UNEXPECTED));
    }
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(body) => Err(Failure { code: body.error.code, message: body.error.message }),
        Err(_) => Err(Failure::network("Something went wrong. Please try again.")),
    }
}

/// `POST /api/generations` with these fields, under a fresh `Idempotency-Key`.
pub async fn create_generation_with(data: web_sys::FormData) -> Result<Generation, Failure> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from(data));
    let request = web_sys::Request::new_with_str_and_init("/api/generations", &init)
        .map_err(|_| Failure::network("Could not send."))?;
    let key = format!("tryon-{}", js_sys::Math::random().to_bits());
    let _ = request.headers().set("Idempotency-Key", &key);
    let (status, text) = send(request).await?;
    answer(status, &text)
}

/// `POST /api/garments/from-url`: the garment of a shop's product page.
pub async fn fetch_garment(url: &str) -> Result<FetchedGarment, Failure> {
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    let body = serde_json::json!({ "url": url }).to_string();
    init.set_body(&JsValue::from_str(&body));
    let request = web_sys::Request::new_with_str_and_init("/api/garments/from-url", &init)
        .map_err(|_| Failure::network("Could not send."))?;
    let _ = request.headers().set("Content-Type", "application/json");
    let (status, text) = send(request).await?;
    answer(status, &text)
}

/// `GET /api/generations/{id}`: the cheap status read a page polls.
pub async fn generation(id: &str) -> Result<Generation, Failure> {
    get_json(&format!("/api/generations/{id}")).await
}

/// `DELETE /api/generations/{id}`.
pub async fn delete_generation(id: &str) -> Result<(), Failure> {
    let init = web_sys::RequestInit::new();
    init.set_method("DELETE");
    let request = web_sys::Request::new_with_str_and_init(&format!("/api/generations/{id}"), &init)
        .map_err(|_| Failure::network("Could not send."))?;
    let (status, text) = send(request).await?;
    if (200..300).contains(&status) { Ok(()) } else { answer::<()>(status, &text) }
}

/// `GET /api/me`, for the balance after a generation ends.
pub async fn me() -> Result<Me, Failure> {
    get_json("/api/me").await
}

async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, Failure> {
    let request =
        web_sys::Request::new_with_str(url).map_err(|_| Failure::network("Could not send."))?;
    let (status, text) = send(request).await?;
    answer(status, &text)
}

/// One of the sample pictures shipped in `public/samples/`, as a file a form can send.
pub async fn sample_file(path: &str, name: &str) -> Result<web_sys::File, Failure> {
    let window = web_sys::window().ok_or_else(|| Failure::network("No browser window."))?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(path))
        .await
        .map_err(|_| Failure::network("Could not load the sample."))?
        .dyn_into()
        .map_err(|_| Failure::network(UNEXPECTED))?;
    if !response.ok() {
        return Err(Failure::network("Could not load the sample."));
    }
    let blob: web_sys::Blob =
        JsFuture::from(response.blob().map_err(|_| Failure::network(UNEXPECTED))?)
            .await
            .map_err(|_| Failure::network(UNEXPECTED))?
            .dyn_into()
            .map_err(|_| Failure::network(UNEXPECTED))?;
    let options = web_sys::FilePropertyBag::new();
    options.set_type("image/png");
    let parts = js_sys::Array::of1(&blob);
    web_sys::File::new_with_blob_sequence_and_options(&parts, name, &options)
        .map_err(|_| Failure::network(UNEXPECTED))
}

/// The longest side a photo is sent at. Providers work at about 1 MP, so a phone's 12 MP
/// photo scaled down first is the same try-on for a tenth of the upload on a mobile network.
pub const MAX_UPLOAD_SIDE: u32 = 2048;

/// `file` scaled down so that its long side is at most [`MAX_UPLOAD_SIDE`], or `file` itself when
/// it is small enough already or the browser cannot decode it (the server then judges it).
pub async fn downscaled(file: web_sys::File) -> web_sys::File {
    scale_down(&file).await.unwrap_or(file)
}

async fn scale_down(file: &web_sys::File) -> Option<web_sys::File> {
    let window = web_sys::window()?;
    // createImageBitmap applies the photo's EXIF orientation, so a portrait stays upright.
    let bitmap: web_sys::ImageBitmap =
        JsFuture::from(window.create_image_bitmap_with_blob(file).ok()?)
            .await
            .ok()?
            .dyn_into()
            .ok()?;
    let (width, height) = (bitmap.width(), bitmap.height());
    let long = width.max(height);
    if long <= MAX_UPLOAD_SIDE {
        bitmap.close();
        return None;
    }
    let scale = f64::from(MAX_UPLOAD_SIDE) / f64::from(long);
    let side = |v: u32| ((f64::from(v) * scale).round() as u32).clamp(1, MAX_UPLOAD_SIDE);
    let (w, h) = (side(width), side(height));
    let canvas = web_sys::OffscreenCanvas::new(w, h).ok()?;
    let context: web_sys::OffscreenCanvasRenderingContext2d =
        canvas.get_context("2d").ok()??.dyn_into().ok()?;
    let _ = js_sys::Reflect::set(&context, &"imageSmoothingQuality".into(), &"high".into());
    let drawn =
        context.draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, w.into(), h.into());
    bitmap.close();
    drawn.ok()?;
    // A PNG keeps its transparency (a cut-out garment); everything else travels as JPEG.
    let (kind, extension) =
        if file.type_() == "image/png" { ("image/png", "png") } else { ("image/jpeg", "jpg") };
    let options = web_sys::ImageEncodeOptions::new();
    options.set_type(kind);
    options.set_quality(0.92);
    let blob: web_sys::Blob = JsFuture::from(canvas.convert_to_blob_with_options(&options).ok()?)
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let name = file.name();
    let stem = name.rsplit_once('.').map_or(name.as_str(), |(stem, _)| stem);
    let properties = web_sys::FilePropertyBag::new();
    properties.set_type(kind);
    web_sys::File::new_with_blob_sequence_and_options(
        &js_sys::Array::of1(&blob),
        &format!("{stem}.{extension}"),
        &properties,
    )
    .ok()
}

/// Replaces each photo of a try-on form with its [`downscaled`] copy.
pub async fn downscale_photos(data: &web_sys::FormData) {
    for field in ["person_image", "garment_image"] {
        let Ok(file) = data.get(field).dyn_into::<web_sys::File>() else { continue };
        if file.size() == 0.0 {
            continue; // the empty part a form sends for a file input left blank
        }
        let small = downscaled(file).await;
        let _ = data.set_with_blob_and_filename(field, &small, &small.name());
    }
}

/// Puts `file` into a file input, as if the shopper had chosen it.
pub fn choose_file(input: &web_sys::HtmlInputElement, file: &web_sys::File) -> bool {
    let Ok(transfer) = web_sys::DataTransfer::new() else { return false };
    if transfer.items().add_with_file(file).is_err() {
        return false;
    }
    input.set_files(transfer.files().as_ref());
    true
}

/// Waits `ms` milliseconds without blocking the page.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}
