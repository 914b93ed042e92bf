//! `/verify-email?token=…`: the link in the verification mail. Confirming takes a click (a
//! post), so that a mail scanner that opens links does not use the link up.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::account_api::VerifyEmail;
use crate::api::error_text;
use crate::pages::password::BUTTON;

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let action = ServerAction::<VerifyEmail>::new();
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let done = move || query.read().get("done").is_some();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <main id="main" class="mx-auto w-full max-w-sm flex-1 px-4 py-10">
            <h1 class="text-2xl font-bold">"Confirm your address"</h1>
            {move || if done() {
                view! {
                    <p role="status" class="mt-4 rounded-lg border border-emerald-300 bg-emerald-50 px-4 py-3 text-emerald-900">"Your address is confirmed."</p>
                    <p class="mt-4"><a class="text-indigo-800 underline" href="/">"Go to the fitting room"</a></p>
                }.into_any()
            } else {
                view! {
                    <ActionForm action>
                        <input type="hidden" name="token" value=token />
                        <p role="alert" class="mt-3 text-red-800">{error}</p>
                        <button type="submit" class=BUTTON>"Confirm my address"</button>
                    </ActionForm>
                }.into_any()
            }}
        </main>
    }
}
