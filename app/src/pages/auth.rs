//! `/login` and `/signup`: plain forms that work without JavaScript.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{SignIn, SignUp, error_text};

const INPUT: &str = "mt-1 block w-full rounded-lg border border-stone-400 px-3 py-2 text-base focus:border-indigo-700 focus:outline-none focus:ring-2 focus:ring-indigo-700";
const BUTTON: &str = "mt-6 w-full rounded-lg bg-indigo-700 px-4 py-2 font-semibold text-white hover:bg-indigo-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-700";

fn next_param() -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| query.read().get("next").unwrap_or_else(|| "/".to_owned()))
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let next = next_param();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    let query = use_query_map();
    let reset = move || query.read().get("reset").is_some();
    view! {
        <main id="main" class="mx-auto w-full max-w-sm flex-1 px-4 py-10">
            <h1 class="text-2xl font-bold">"Sign in to Fitroom"</h1>
            {move || reset().then(|| view! {
                <p role="status" class="mt-4 rounded-lg border border-emerald-300 bg-emerald-50 px-4 py-2 text-emerald-900">"Your password is changed. Sign in with it."</p>
            })}
            <ActionForm action>
                <input type="hidden" name="next" value=next />
                <label class="mt-6 block font-medium" for="email">"Email"</label>
                <input class=INPUT id="email" name="email" type="email" autocomplete="email" required />
                <label class="mt-4 block font-medium" for="password">"Password"</label>
                <input class=INPUT id="password" name="password" type="password" autocomplete="current-password" required />
                <p role="alert" class="mt-3 text-red-800">{error}</p>
                <button type="submit" class=BUTTON>"Sign in"</button>
            </ActionForm>
            <p class="mt-4"><a class="text-indigo-800 underline" href="/forgot-password">"Forgot password?"</a></p>
            <p class="mt-6 text-stone-700">
                "New here? " <a class="text-indigo-800 underline" href=move || format!("/signup?next={}", next.get())>"Create an account"</a>
            </p>
        </main>
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let next = next_param();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <main id="main" class="mx-auto w-full max-w-sm flex-1 px-4 py-10">
            <h1 class="text-2xl font-bold">"Create your Fitroom account"</h1>
            <p class="mt-2 text-stone-700">"New accounts get free credits to try it out."</p>
            <ActionForm action>
                <input type="hidden" name="next" value=next />
                <label class="mt-6 block font-medium" for="email">"Email"</label>
                <input class=INPUT id="email" name="email" type="email" autocomplete="email" required />
                <label class="mt-4 block font-medium" for="password">"Password"</label>
                <input class=INPUT id="password" name="password" type="password" autocomplete="new-password" minlength="8" required aria-describedby="password-help" />
                <p id="password-help" class="mt-1 text-sm text-stone-700">"At least 8 characters."</p>
                <p role="alert" class="mt-3 text-red-800">{error}</p>
                <button type="submit" class=BUTTON>"Create account"</button>
            </ActionForm>
            <p class="mt-6 text-stone-700">
                "Already have an account? " <a class="text-indigo-800 underline" href=move || format!("/login?next={}", next.get())>"Sign in"</a>
            </p>
        </main>
    }
}
