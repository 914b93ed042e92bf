//! `/forgot-password` and `/reset-password`: a forgotten password replaced through a mailed link,
//! with plain forms that work without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::account_api::{RequestReset, ResetPassword};
use crate::api::error_text;

pub(crate) const INPUT: &str = "mt-1 block w-full rounded-lg border border-stone-400 px-3 py-2 text-base focus:border-indigo-700 focus:outline-none focus:ring-2 focus:ring-indigo-700";
pub(crate) const BUTTON: &str = "mt-6 w-full rounded-lg bg-indigo-700 px-4 py-2 font-semibold text-white hover:bg-indigo-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-700";

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestReset>::new();
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    view! {
        <main id="main" class="mx-auto w-full max-w-sm flex-1 px-4 py-10">
            <h1 class="text-2xl font-bold">"Forgot your password?"</h1>
            {move || if sent() {
                view! {
                    <p role="status" class="mt-4 rounded-lg border border-emerald-300 bg-emerald-50 px-4 py-3 text-emerald-900">
                        "If an account has this address, a link to choose a new password is on its way. It works once, for an hour."
                    </p>
                }.into_any()
            } else {
                view! {
                    <p class="mt-2 text-stone-700">"We will mail you a link to choose a new one."</p>
                    <ActionForm action>
                        <label class="mt-6 block font-medium" for="email">"Email"</label>
                        <input class=INPUT id="email" name="email" type="email" autocomplete="email" required />
                        <button type="submit" class=BUTTON>"Send reset link"</button>
                    </ActionForm>
                }.into_any()
            }}
            <p class="mt-6 text-stone-700"><a class="text-indigo-800 underline" href="/login">"Back to sign in"</a></p>
        </main>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <main id="main" class="mx-auto w-full max-w-sm flex-1 px-4 py-10">
            <h1 class="text-2xl font-bold">"Choose a new password"</h1>
            <p class="mt-2 text-stone-700">"Every device signed in to your account will be signed out."</p>
            <ActionForm action>
                <input type="hidden" name="token" value=token />
                <label class="mt-6 block font-medium" for="password">"New password"</label>
                <input class=INPUT id="password" name="password" type="password" autocomplete="new-password" minlength="8" required aria-describedby="password-help" />
                <p id="password-help" class="mt-1 text-sm text-stone-700">"At least 8 characters."</p>
                <p role="alert" class="mt-3 text-red-800">{error}</p>
                <button type="submit" class=BUTTON>"Set new password"</button>
            </ActionForm>
            <p class="mt-6 text-stone-700"><a class="text-indigo-800 underline" href="/forgot-password">"Ask for a new link"</a></p>
        </main>
    }
}
