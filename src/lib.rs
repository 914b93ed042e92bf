//! The wasm entry point. Fitroom runs in islands mode: the pages are server-rendered HTML, and the
//! browser hydrates only the `#[island]` components of `fitroom-app` (the loader script calls each
//! island's exported function after this).

// Nothing here calls into the app crate, and an unused crate is not linked: this keeps the islands'
// exported functions in the wasm.
#[cfg(feature = "hydrate")]
use fitroom_app as _;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
