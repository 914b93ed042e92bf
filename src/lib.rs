//! The wasm entry point: the browser hydrates the server-rendered pages of `fitroom-app`.

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(fitroom_app::App);
}
