//! `/privacy`: what Fitroom keeps about a shopper and for how long, read from this server's
//! configuration so that it never disagrees with what the code does.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::account_api::{PrivacyView, privacy_facts};

#[component]
pub fn PrivacyPage() -> impl IntoView {
    let facts = Resource::new(|| (), |_| privacy_facts());
    let query = use_query_map();
    let deleted = move || query.read().get("deleted").is_some();
    view! {
        <main id="main" class="mx-auto w-full max-w-2xl flex-1 px-4 py-10">
            <h1 class="text-2xl font-bold">"Privacy"</h1>
            {move || deleted().then(|| view! {
                <p role="status" class="mt-4 rounded-lg border border-emerald-300 bg-emerald-50 px-4 py-2 text-emerald-900">
                    "Your account is deleted, with every picture of you. Thank you for trying Fitroom."
                </p>
            })}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    facts.await.ok().map(|facts| view! { <Facts facts /> })
                })}
            </Suspense>
            <p class="mt-8"><a class="text-indigo-800 underline" href="/">"Back to the fitting room"</a></p>
        </main>
    }
}

/// "one hour", "6 hours".
fn hours(n: u64) -> String {
    if n == 1 { "one hour".to_owned() } else { format!("{n} hours") }
}

#[component]
fn Facts(facts: PrivacyView) -> impl IntoView {
    let inputs = match facts.input_retention_hours {
        0 => "as soon as the try-on ends".to_owned(),
        h => format!("{} after the try-on ends", hours(h)),
    };
    let results = match facts.result_retention_days {
        0 => "until you delete the try-on (or your account)".to_owned(),
        1 => "for one day after the try-on, then deleted (the try-on stays in your history without its picture)".to_owned(),
        d => format!(
            "for {d} days after the try-on, then deleted (the try-on stays in your history without its picture)"
        ),
    };
    view! {
        <h2 class="mt-6 text-xl font-semibold">"What we keep, and for how long"</h2>
        <dl class="mt-3 space-y-3">
            <div><dt class="font-medium">"The photos of a try-on"</dt>
                <dd class="text-stone-700" data-testid="inputs-kept">{format!("Your photo and the garment photo sent with a try-on (also the copies made when a try-on uses a saved photo or a garment from a link) are deleted {inputs}. They are sent to the AI provider that makes the picture only through a link that expires within the hour.")}</dd></div>
            <div><dt class="font-medium">"Photos you save"</dt>
                <dd class="text-stone-700" data-testid="saved-kept">"A photo of you saved with “Save this photo for next time” is kept, to try on again, until you delete your account (apps using the Fitroom API can also delete one saved photo). The photos of the try-ons made with it still go as above."</dd></div>
            <div><dt class="font-medium">"Garments from a product link"</dt>
                <dd class="text-stone-700" data-testid="garments-kept">{format!("The picture taken from a shop’s product page is deleted {} after it was fetched (or with your account, if that comes first). We keep the page’s address and the product’s name with it, and nothing else from the shop.", hours(facts.garment_retention_hours))}</dd></div>
            <div><dt class="font-medium">"The pictures made for you"</dt>
                <dd class="text-stone-700" data-testid="results-kept">{format!("Kept {results}. Only you can open them.")}</dd></div>
            <div><dt class="font-medium">"Your account"</dt>
                <dd class="text-stone-700">"Your email address and a one-way hash of your password, until you delete the account."</dd></div>
            <div><dt class="font-medium">"Sessions"</dt>
                <dd class="text-stone-700">{format!("A signed-in device stays signed in for up to {} days, or until {} days without a visit; you can see and end them on the security page.", facts.session_max_days, facts.session_idle_days)}</dd></div>
            <div><dt class="font-medium">"Credits"</dt>
                <dd class="text-stone-700">"Every credit movement, for accounting. When you delete your account these records stay without your address or anything else that names you."</dd></div>
        </dl>
        <h2 class="mt-6 text-xl font-semibold">"Your rights"</h2>
        <ul class="mt-3 list-disc space-y-2 pl-6 text-stone-700">
            <li>"A copy of everything: “Download my data” on the security page gives a zip of your account, try-ons, credit history and every picture we still keep: the photos of your try-ons, your saved photos, your garments from links and the pictures made for you."</li>
            <li>"Erasure: “Delete account” on the security page stops your running try-ons, deletes every picture of you at once (try-on photos, saved photos, garments, results) and frees your address."</li>
        </ul>
    }
}
