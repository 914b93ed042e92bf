//! `/account/security`: the account's sessions (one ended at a time, or all), the password, the
//! data export, and deleting the account.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::account_api::{
    ChangePassword, DeleteAccount, EndSession, ResendVerification, SecurityView, SignOutEverywhere,
    security,
};
use crate::api::error_text;
use crate::layout::SignedIn;
use crate::pages::password::INPUT;

const BUTTON: &str = "mt-4 rounded-lg bg-indigo-700 px-4 py-2 font-semibold text-white hover:bg-indigo-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-700";
const QUIET: &str = "rounded border border-stone-400 px-3 py-1 text-sm hover:bg-stone-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700";
const DANGER: &str = "mt-4 rounded-lg bg-red-800 px-4 py-2 font-semibold text-white hover:bg-red-900 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-red-800";
const CARD: &str = "mt-6 rounded-xl border border-stone-200 bg-white p-4";

#[component]
pub fn SecurityPage() -> impl IntoView {
    view! { <SignedIn><Security /></SignedIn> }
}

#[component]
fn Security() -> impl IntoView {
    let data = Resource::new(|| (), |_| security());
    let query = use_query_map();
    let done = move || {
        query.read().get("done").map(|what| match what.as_str() {
            "password" => "Your password is changed. Every other device is signed out.",
            "session" => "That session is signed out.",
            "verification" => "A new confirmation link is on its way.",
            _ => "Done.",
        })
    };
    view! {
        <h1 class="text-2xl font-bold">"Security and privacy"</h1>
        {move || done().map(|text| view! {
            <p role="status" class="mt-4 rounded-lg border border-emerald-300 bg-emerald-50 px-4 py-2 text-emerald-900">{text}</p>
        })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <Details view /> }.into_any(),
                    Err(e) => view! { <p role="alert">{error_text(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Details(view: SecurityView) -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let resend = ServerAction::<ResendVerification>::new();
    view! {
        <section class=CARD aria-labelledby="address-heading">
            <h2 id="address-heading" class="text-lg font-semibold">"Email address"</h2>
            // Confirming is asked for only where this server needs it (`FITROOM_VERIFY_EMAIL`).
            <p class="mt-1">{view.email.clone()}
                {match (view.email_verified, view.verification_asked) {
                    (true, _) => " · confirmed",
                    (false, true) => " · not confirmed yet",
                    (false, false) => "",
                }}
            </p>
            {(!view.email_verified && view.verification_asked).then(|| view! {
                <ActionForm action=resend>
                    <button type="submit" class=QUIET>"Send the confirmation link again"</button>
                </ActionForm>
            })}
        </section>
        <section class=CARD aria-labelledby="sessions-heading">
            <h2 id="sessions-heading" class="text-lg font-semibold">"Where you are signed in"</h2>
            <ul class="mt-2 divide-y divide-stone-200">
                {view.sessions.into_iter().map(|s| view! {
                    <li class="flex flex-wrap items-center justify-between gap-2 py-2" data-testid="session">
                        <div>
                            <p class="font-medium">{s.user_agent.clone().unwrap_or_else(|| "Unknown browser".into())}</p>
                            <p class="text-sm text-stone-700">
                                {format!("Signed in {} UTC · last seen {} UTC", s.created_at.get(..16).unwrap_or(&s.created_at).replace('T', " "), s.last_seen_at.get(..16).unwrap_or(&s.last_seen_at).replace('T', " "))}
                            </p>
                        </div>
                        {if s.current {
                            view! { <span class="text-sm font-semibold text-emerald-900">"This device"</span> }.into_any()
                        } else {
                            view! {
                                <ActionForm action=end>
                                    <input type="hidden" name="id" value=s.id.clone() />
                                    <button type="submit" class=QUIET>"Sign out"</button>
                                </ActionForm>
                            }.into_any()
                        }}
                    </li>
                }).collect_view()}
            </ul>
            <ActionForm action=everywhere>
                <button type="submit" class=BUTTON>"Sign out everywhere"</button>
            </ActionForm>
        </section>
        <ChangePasswordForm />
        <section class=CARD aria-labelledby="data-heading">
            <h2 id="data-heading" class="text-lg font-semibold">"Your data"</h2>
            <p class="mt-1 text-stone-700">"A zip of your account, generations, credit history and every picture we keep of you. "
                <a class="text-indigo-800 underline" href="/privacy">"What we keep, and for how long"</a>
            </p>
            <a class=format!("inline-block {BUTTON}") href="/api/me/export" download="fitroom-export.zip">"Download my data"</a>
        </section>
        <DeleteAccountForm />
    }
}

#[component]
fn ChangePasswordForm() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <section class=CARD aria-labelledby="password-heading">
            <h2 id="password-heading" class="text-lg font-semibold">"Change password"</h2>
            <ActionForm action>
                <label class="mt-3 block font-medium" for="current-password">"Current password"</label>
                <input class=INPUT id="current-password" name="current_password" type="password" autocomplete="current-password" required />
                <label class="mt-3 block font-medium" for="new-password">"New password"</label>
                <input class=INPUT id="new-password" name="new_password" type="password" autocomplete="new-password" minlength="8" required />
                <p role="alert" class="mt-2 text-red-800">{error}</p>
                <button type="submit" class=BUTTON>"Change password"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn DeleteAccountForm() -> impl IntoView {
    let action = ServerAction::<DeleteAccount>::new();
    let error = move || action.value().get().and_then(|r| r.err()).map(|e| error_text(&e));
    view! {
        <section class="mt-6 rounded-xl border border-red-300 bg-white p-4" aria-labelledby="delete-heading">
            <h2 id="delete-heading" class="text-lg font-semibold text-red-900">"Delete account"</h2>
            <p class="mt-1 text-stone-700">"Running try-ons are canceled and their credits released; every picture of you is deleted; your credits are lost. This cannot be undone."</p>
            <ActionForm action>
                <label class="mt-3 block font-medium" for="delete-password">"Password"</label>
                <input class=INPUT id="delete-password" name="password" type="password" autocomplete="current-password" required />
                <p role="alert" class="mt-2 text-red-800">{error}</p>
                <button type="submit" class=DANGER>"Delete account"</button>
            </ActionForm>
        </section>
    }
}
