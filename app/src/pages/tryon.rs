//! `/`: the try-on page. Upload a photo and a garment (or describe an outfit), then watch the
//! generation progress by polling the cheap status endpoint, with backoff, until it finishes.

use fitroom_types::upload::{ACCEPTED_IMAGE_TYPES, MAX_PROMPT_CHARS, check_image};
use fitroom_types::{FetchedGarment, Generation, GenerationStatus, SavedPhoto};
use leptos::prelude::*;

use crate::api::{Viewer, saved_photos, typical_seconds};
use crate::client;
use crate::layout::{Credits, SignedIn, shared_credits};

/// The most garments tried on at once (one generation each).
const MAX_GARMENTS: usize = 4;

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Idle,
    Uploading,
    Running { status: GenerationStatus, started_ms: f64 },
    Done { result_url: String },
    Failed { message: String, code: String },
}

#[component]
pub fn TryOnPage() -> impl IntoView {
    view! { <SignedIn><TryOn /></SignedIn> }
}

/// Server-rendered around the one island of the page: the form with its progress and result.
#[component]
fn TryOn() -> impl IntoView {
    let viewer = use_context::<Viewer>();
    let cost = viewer.as_ref().map_or(1, |v| v.cost);
    let credits = viewer.map_or(Credits { available: 0, held: 0 }, |v| Credits {
        available: v.available,
        held: v.held,
    });
    let photos = Resource::new(|| (), |_| saved_photos());
    let typical = Resource::new(|| (), |_| typical_seconds());
    view! {
        <h1 class="text-2xl font-bold">"Try it on"</h1>
        <p class="mt-1 text-stone-700">"A photo of you and a garment (or a description), and Fitroom shows you wearing it."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let photos = photos.await.unwrap_or_default();
                let typical = typical.await.ok().flatten();
                view! { <TryOnForm cost credits photos typical /> }
            })}
        </Suspense>
    }
}

#[island]
fn TryOnForm(
    cost: i64,
    credits: Credits,
    photos: Vec<SavedPhoto>,
    /// The provider's median seconds from submission to result lately, when measured.
    typical: Option<u64>,
) -> impl IntoView {
    let credits = shared_credits(credits);
    let available = move || credits.get().available;
    // The button stays disabled until the wasm runs: before that a click would post the form
    // without the live progress.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    let phase = RwSignal::new(Phase::Idle);
    let person_preview = RwSignal::new(None::<String>);
    let garment_preview = RwSignal::new(None::<String>);
    let file_error = RwSignal::new(None::<String>);
    // The saved photo picked instead of an upload, if any.
    let use_saved = RwSignal::new(None::<String>);
    // How many garment photos are chosen (several at once: one generation each).
    let garment_count = RwSignal::new(0u32);
    // The garment taken from a product link, if any.
    let link = RwSignal::new(String::new());
    let fetched = RwSignal::new(None::<FetchedGarment>);
    let fetching = RwSignal::new(false);
    let fetch_error = RwSignal::new(None::<String>);
    let person_input = NodeRef::<leptos::html::Input>::new();
    let garment_input = NodeRef::<leptos::html::Input>::new();
    // "Try with a sample": the sample person and garment shipped in `public/samples/` go into
    // the two file inputs, as if chosen; the shopper then presses "Try it on".
    let use_sample = move |_| {
        file_error.set(None);
        use_saved.set(None);
        fetched.set(None);
        leptos::task::spawn_local(async move {
            let samples = [
                ("/samples/person.png", "sample-person.png", person_input, person_preview),
                (
                    "/samples/garment-green-shirt.png",
                    "sample-shirt.png",
                    garment_input,
                    garment_preview,
                ),
            ];
            for (path, name, input, preview) in samples {
                let chosen = match (client::sample_file(path, name).await, input.get_untracked()) {
                    (Ok(file), Some(element)) => client::choose_file(&element, &file).then(|| {
                        preview.set(web_sys::Url::create_object_url_with_blob(&file).ok())
                    }),
                    _ => None,
                };
                if chosen.is_none() {
                    file_error.set(Some("The sample could not be loaded.".into()));
                }
            }
        });
    };
    // "Try another garment": the person photo stays, the garment and the result go.
    let try_another = move || {
        if let Some(input) = garment_input.get_untracked() {
            input.set_value("");
            let _ = input.focus();
        }
        garment_preview.set(None);
        garment_count.set(0);
        fetched.set(None);
        phase.set(Phase::Idle);
    };
    // A picture dropped on a file input, or pasted anywhere on the form (desktop): it goes into
    // the photo input if that is empty, else into the garment input.
    let put_file = move |file: web_sys::File, target: Option<NodeRef<leptos::html::Input>>| {
        let target = target.unwrap_or_else(|| {
            let person_empty = person_input
                .get_untracked()
                .and_then(|i| i.files())
                .is_none_or(|f| f.length() == 0);
            if person_empty && use_saved.get_untracked().is_none() {
                person_input
            } else {
                garment_input
            }
        });
        if let Some(input) = target.get_untracked()
            && !input.disabled()
            && client::choose_file(&input, &file)
            && let Ok(change) = web_sys::Event::new("change")
        {
            let _ = input.dispatch_event(&change);
        }
    };
    let on_paste = move |ev: web_sys::ClipboardEvent| {
        let file = ev.clipboard_data().and_then(|d| d.files()).and_then(|f| f.get(0));
        if let Some(file) = file.filter(|f| f.type_().starts_with("image/")) {
            ev.prevent_default();
            put_file(file, None);
        }
    };
    let on_drop = move |target: NodeRef<leptos::html::Input>| {
        move |ev: web_sys::DragEvent| {
            let file = ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0));
            if let Some(file) = file {
                ev.prevent_default();
                put_file(file, Some(target));
            }
        }
    };
    let fetch_garment = move |_| {
        let url = link.get_untracked();
        if url.trim().is_empty() || fetching.get_untracked() {
            return;
        }
        fetching.set(true);
        fetch_error.set(None);
        leptos::task::spawn_local(async move {
            match client::fetch_garment(url.trim()).await {
                Ok(garment) => {
                    garment_preview.set(Some(format!("/api/garments/{}", garment.garment_id)));
                    fetched.set(Some(garment));
                }
                Err(client::Failure { message, .. }) => fetch_error.set(Some(message)),
            }
            fetching.set(false);
        });
    };
    let now_ms = RwSignal::new(0.0);
    // Several garments at once: one generation each, followed side by side.
    let runs = RwSignal::new(Vec::<(String, RwSignal<Phase>)>::new());
    let running = |p: &Phase| matches!(p, Phase::Uploading | Phase::Running { .. });

    let busy = move || {
        running(&phase.get()) || runs.with(|r| r.iter().any(|(_, slot)| running(&slot.get())))
    };
    let on_submit = move |ev: web_sys::SubmitEvent| {
        ev.prevent_default();
        if busy() {
            return;
        }
        let Some(form) = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlFormElement>(t).ok())
        else {
            return;
        };
        let garments: Vec<web_sys::File> = garment_input
            .get_untracked()
            .and_then(|i| i.files())
            .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
            .unwrap_or_default();
        runs.set(Vec::new());
        if garments.len() > 1 {
            phase.set(Phase::Idle);
            let mut started = Vec::new();
            for garment in garments {
                let Ok(data) = web_sys::FormData::new_with_form(&form) else { continue };
                data.delete("garment_image");
                if data
                    .append_with_blob_and_filename("garment_image", &garment, &garment.name())
                    .is_err()
                {
                    continue;
                }
                let slot = RwSignal::new(Phase::Uploading);
                started.push((garment.name(), slot));
                leptos::task::spawn_local(generate(data, slot, now_ms, credits));
            }
            runs.set(started);
            return;
        }
        let Ok(data) = web_sys::FormData::new_with_form(&form) else { return };
        phase.set(Phase::Uploading);
        leptos::task::spawn_local(generate(data, phase, now_ms, credits));
    };

    let preview = move |slot: RwSignal<Option<String>>| {
        move |ev: web_sys::Event| {
            file_error.set(None);
            let input = ev
                .target()
                .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok());
            let file = input.as_ref().and_then(|i| i.files()).and_then(|f| f.get(0));
            let Some(file) = file else {
                slot.set(None);
                return;
            };
            match check_image(&file.type_(), file.size() as u64) {
                Ok(()) => slot.set(web_sys::Url::create_object_url_with_blob(&file).ok()),
                Err(e) => {
                    file_error.set(Some(e.to_string()));
                    if let Some(i) = &input {
                        i.set_value("")
                    }
                    slot.set(None);
                }
            }
        }
    };

    let show_garment = preview(garment_preview);
    // Up to four garments, each checked like one; the count sets the price shown.
    let on_garments = move |ev: web_sys::Event| {
        let input = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok());
        let files: Vec<web_sys::File> = input
            .as_ref()
            .and_then(|i| i.files())
            .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
            .unwrap_or_default();
        let refused = if files.len() > MAX_GARMENTS {
            Some(format!("Up to {MAX_GARMENTS} garments at once."))
        } else {
            files
                .iter()
                .find_map(|f| check_image(&f.type_(), f.size() as u64).err().map(|e| e.to_string()))
        };
        if let (Some(error), Some(input)) = (refused, &input) {
            input.set_value("");
            garment_count.set(0);
            garment_preview.set(None);
            file_error.set(Some(error));
            return;
        }
        garment_count.set(files.len() as u32);
        show_garment(ev);
    };
    let field = "mt-1 block w-full rounded-lg border border-stone-400 bg-white px-3 py-2 focus:border-indigo-700 focus:outline-none focus:ring-2 focus:ring-indigo-700";
    view! {
        <form class="mt-6 grid gap-6 md:grid-cols-2" method="post" action="/api/generations" enctype="multipart/form-data" on:submit=on_submit on:paste=on_paste>
            <div>
                {(!photos.is_empty()).then(|| view! { <SavedPhotos photos=photos.clone() use_saved person_preview /> })}
                <label class="block font-medium" for="person_image">"Your photo"</label>
                <input class=field id="person_image" name="person_image" type="file" accept=ACCEPTED_IMAGE_TYPES.join(",") node_ref=person_input
                    on:drop=on_drop(person_input) on:dragover=|ev: web_sys::DragEvent| ev.prevent_default()
                    required=move || use_saved.get().is_none() disabled=move || use_saved.get().is_some()
                    capture="user" on:change=preview(person_preview) />
                <label class="mt-2 flex items-center gap-2 text-stone-800">
                    <input type="checkbox" name="save_photo" value="true" class="h-4 w-4" disabled=move || use_saved.get().is_some() />
                    "Save this photo for next time"
                </label>
                {move || person_preview.get().map(|src| view! { <img src=src alt="Preview of your photo" class="mt-2 max-h-48 rounded-lg" /> })}
            </div>
            <div>
                <label class="block font-medium" for="garment_image">"Garment photo"</label>
                <input class=field id="garment_image" name="garment_image" type="file" accept=ACCEPTED_IMAGE_TYPES.join(",") node_ref=garment_input
                    on:drop=on_drop(garment_input) on:dragover=|ev: web_sys::DragEvent| ev.prevent_default()
                    multiple disabled=move || fetched.get().is_some() on:change=on_garments />
                <label class="mt-3 block font-medium" for="garment_link">"Garment link"</label>
                <div class="flex gap-2">
                    <input class=field id="garment_link" type="url" inputmode="url" placeholder="https://shop.example/products/…"
                        prop:value=move || link.get() on:input=move |ev| link.set(event_target_value(&ev)) />
                    <button type="button" on:click=fetch_garment disabled=move || !hydrated.get() || fetching.get()
                        class="mt-1 shrink-0 rounded-lg border border-stone-400 bg-white px-3 py-2 font-medium hover:bg-stone-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700 disabled:opacity-60">
                        {move || if fetching.get() { "Fetching…" } else { "Fetch garment" }}
                    </button>
                </div>
                <input type="hidden" name="garment_id" value=move || fetched.get().map(|g| g.garment_id).unwrap_or_default() />
                {move || fetch_error.get().map(|e| view! { <p role="alert" class="mt-2 text-red-800">{e}</p> })}
                {move || fetched.get().map(|g| view! {
                    <p class="mt-2 text-stone-800" data-testid="fetched-garment">{g.title.unwrap_or_else(|| "Garment from the link".into())}</p>
                    <button type="button" class="text-sm text-indigo-800 underline" on:click=move |_| { fetched.set(None); garment_preview.set(None); }>"Use another garment"</button>
                })}
                {move || garment_preview.get().map(|src| view! { <img src=src alt="Preview of the garment" class="mt-2 max-h-48 rounded-lg" /> })}
            </div>
            <div class="md:col-span-2">
                <label class="block font-medium" for="prompt">"Describe the outfit"</label>
                <textarea class=field id="prompt" name="prompt" rows="2" maxlength=MAX_PROMPT_CHARS.to_string() placeholder="Optional when you add a garment photo, e.g. a green linen shirt"></textarea>
            </div>
            <div>
                <label class="block font-medium" for="aspect_ratio">"Picture shape"</label>
                <select class=field id="aspect_ratio" name="aspect_ratio">
                    <option value="3:4">"Portrait 3:4"</option>
                    <option value="1:1">"Square 1:1"</option>
                    <option value="9:16">"Tall 9:16"</option>
                </select>
            </div>
            <div class="flex flex-col justify-end gap-2">
                <button type="button" on:click=use_sample disabled=move || !hydrated.get() || busy()
                    class="rounded-lg border border-stone-400 bg-white px-4 py-2 font-medium hover:bg-stone-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700 disabled:opacity-60">
                    "Try with a sample"
                </button>
                <p class="text-stone-700">
                    {move || match i64::from(garment_count.get()) {
                        n if n > 1 => format!("{n} try-ons, {} credits. You have {}.", n * cost, available()),
                        _ => format!("Costs {cost} credit{}. You have {}.", if cost == 1 { "" } else { "s" }, available()),
                    }}
                </p>
                <button type="submit" disabled=move || !hydrated.get() || busy()
                    class="rounded-lg bg-indigo-700 px-4 py-3 text-lg font-semibold text-white hover:bg-indigo-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-700 disabled:opacity-60">
                    "Try it on"
                </button>
            </div>
            <p role="alert" class="text-red-800 md:col-span-2">{move || file_error.get()}</p>
        </form>
        {move || (!runs.with(Vec::is_empty)).then(|| view! {
            <section class="mt-8" aria-label="Your try-ons">
                <ul class="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
                    {runs.get().into_iter().map(|(name, slot)| view! {
                        <li class="rounded-xl border border-stone-200 bg-white p-3" data-testid="multi-result">
                            <p class="truncate text-sm font-medium">{name}</p>
                            {move || match slot.get() {
                                Phase::Done { result_url } => view! {
                                    <img src=result_url.clone() alt="A try-on result" class="mt-2 w-full rounded-lg" />
                                    <a href=result_url download="fitroom-try-on.png" class="mt-2 inline-block text-sm text-indigo-800 underline">"Download"</a>
                                }.into_any(),
                                Phase::Failed { message, .. } => view! { <p role="alert" class="mt-2 text-sm text-red-900">{message}</p> }.into_any(),
                                Phase::Running { status, .. } => view! {
                                    <p role="status" class="mt-2 text-sm">{if status == GenerationStatus::Queued { "Queued…" } else { "Processing…" }}</p>
                                }.into_any(),
                                _ => view! { <p role="status" class="mt-2 text-sm">"Uploading…"</p> }.into_any(),
                            }}
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        <section class="mt-8" aria-live="polite" aria-label="Progress and result">
            {move || match phase.get() {
                Phase::Idle => ().into_any(),
                Phase::Uploading => view! { <p role="status">"Uploading…"</p> }.into_any(),
                Phase::Running { status, started_ms, .. } => {
                    let seconds = ((now_ms.get() - started_ms) / 1000.0).max(0.0) as u64;
                    let step = if status == GenerationStatus::Queued { "Queued" } else { "Processing" };
                    let usually = typical.map(|t| format!(" (usually about {t} s)")).unwrap_or_default();
                    view! { <p role="status">{format!("{step}… {seconds} s{usually}")}</p> }.into_any()
                }
                Phase::Done { result_url } => view! {
                    <Result result_url before=person_preview.get() on_another=try_another />
                }.into_any(),
                Phase::Failed { message, code } => view! {
                    <div role="alert" class="rounded-xl border border-red-300 bg-red-50 p-4 text-red-900">
                        <p>{message}</p>
                        {(code == "insufficient_credits").then(|| view! { <p class="mt-2"><a class="underline" href="/account">"See your credits"</a></p> })}
                        {(code == "provider_failed").then(|| view! { <p class="mt-2">"You were not charged. You can try again."</p> })}
                    </div>
                }.into_any(),
            }}
        </section>
    }
}

/// The result: before and after side by side, a keyboard-usable slider that wipes from one to
/// the other, full screen, download, and "Try another garment".
#[component]
fn Result(
    result_url: String,
    before: Option<String>,
    on_another: impl Fn() + Copy + 'static,
) -> impl IntoView {
    let reveal = RwSignal::new(50u8);
    let stage = NodeRef::<leptos::html::Div>::new();
    let full_screen = move |_| {
        if let Some(stage) = stage.get_untracked() {
            let _ = stage.request_fullscreen();
        }
    };
    let button = "rounded-lg border border-stone-400 px-4 py-2 font-medium hover:bg-stone-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-indigo-700";
    let after = result_url.clone();
    view! {
        <div>
            <p role="status" class="font-semibold text-emerald-900">"Done"</p>
            <div class="mt-3 grid gap-4 md:grid-cols-2">
                {before.clone().map(|src| view! { <figure><img src=src alt="Before: your photo" class="w-full rounded-xl" /><figcaption class="text-sm text-stone-700">"Before"</figcaption></figure> })}
                <figure>
                    <img src=result_url.clone() alt="Your try-on result" class="w-full rounded-xl" data-testid="result" />
                    <figcaption class="text-sm text-stone-700">"After"</figcaption>
                </figure>
            </div>
            {before.map(|src| view! {
                <div class="mt-4 max-w-md">
                    <div node_ref=stage class="relative overflow-hidden rounded-xl bg-black" data-testid="compare">
                        // The result sets the frame and the photo is cropped to it, so that the
                        // two line up even when the result has another shape than the photo.
                        <img src=after alt="" class="block w-full" />
                        <img src=src alt="" class="absolute inset-0 h-full w-full object-cover"
                            style=move || format!("clip-path: inset(0 0 0 {}%)", reveal.get()) />
                    </div>
                    <label class="mt-2 block text-sm font-medium" for="compare">"Compare before and after"</label>
                    <input id="compare" type="range" min="0" max="100" step="5" class="w-full"
                        prop:value=move || reveal.get().to_string()
                        aria-valuetext=move || format!("{}% after", reveal.get())
                        on:input=move |ev| reveal.set(event_target_value(&ev).parse().unwrap_or(50)) />
                </div>
            })}
            <div class="mt-3 flex flex-wrap gap-2">
                <a href=result_url download="fitroom-try-on.png" class=button>"Download"</a>
                <button type="button" class=button on:click=full_screen>"View full screen"</button>
                <button type="button" class=button on:click=move |_| on_another()>"Try another garment"</button>
            </div>
        </div>
    }
}

/// "Use a saved photo": radio buttons with a thumbnail each, and "Upload a new photo". The
/// choice posts as `person_photo_id` (empty for an upload).
#[component]
fn SavedPhotos(
    photos: Vec<SavedPhoto>,
    use_saved: RwSignal<Option<String>>,
    person_preview: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        <fieldset class="mb-4">
            <legend class="font-medium">"Use a saved photo"</legend>
            <div class="mt-2 flex flex-wrap gap-3">
                <label class="flex items-center gap-2 rounded-lg border border-stone-300 px-3 py-2">
                    <input type="radio" name="person_photo_id" value="" checked
                        on:change=move |_| { use_saved.set(None); person_preview.set(None); } />
                    "Upload a new photo"
                </label>
                {photos.into_iter().map(|photo| {
                    let src = format!("/api/photos/{}", photo.id);
                    let id = photo.id.clone();
                    let when = photo.created_at.get(..10).unwrap_or(&photo.created_at).to_owned();
                    let preview = src.clone();
                    view! {
                        <label class="flex items-center gap-2 rounded-lg border border-stone-300 px-2 py-1">
                            <input type="radio" name="person_photo_id" value=id.clone()
                                on:change=move |_| { use_saved.set(Some(id.clone())); person_preview.set(Some(preview.clone())); } />
                            <img src=src alt=format!("Saved photo from {when}") class="h-16 w-12 rounded object-cover" />
                        </label>
                    }
                }).collect_view()}
            </div>
        </fieldset>
    }
}

/// Sends one generation, follows it in `slot` until it ends, then refreshes the balance.
async fn generate(
    data: web_sys::FormData,
    slot: RwSignal<Phase>,
    now_ms: RwSignal<f64>,
    credits: RwSignal<Credits>,
) {
    client::downscale_photos(&data).await;
    match client::create_generation_with(data).await {
        Ok(g) => {
            let started_ms = js_sys::Date::now();
            slot.set(Phase::Running { status: g.status, started_ms });
            follow(g, slot, now_ms).await;
        }
        Err(client::Failure { code, message }) => slot.set(Phase::Failed { message, code }),
    }
    refresh_balance(credits).await;
}

/// After a generation ends, the header shows what it now costs or gave back.
async fn refresh_balance(credits: RwSignal<Credits>) {
    if let Ok(me) = client::me().await {
        credits.set(Credits { available: me.credits.available, held: me.credits.held });
    }
}

/// Polls the status endpoint with backoff (0.5 s growing to 3 s) until the job is finished.
async fn follow(first: Generation, phase: RwSignal<Phase>, now_ms: RwSignal<f64>) {
    let mut g = first;
    let mut wait_ms: f64 = 500.0;
    loop {
        now_ms.set(js_sys::Date::now());
        match g.status {
            GenerationStatus::Succeeded => {
                if let Some(url) = g.result_url.clone() {
                    phase.set(Phase::Done { result_url: url });
                    return;
                }
            }
            GenerationStatus::Failed | GenerationStatus::Canceled => {
                let message = g.error.clone().unwrap_or_else(|| {
                    "The generation did not finish. You were not charged.".into()
                });
                phase.set(Phase::Failed { message, code: "provider_failed".into() });
                return;
            }
            status => phase.update(|p| {
                if let Phase::Running { status: s, .. } = p {
                    *s = status;
                }
            }),
        }
        client::sleep(wait_ms as i32).await;
        wait_ms = (wait_ms * 1.5).min(3000.0);
        match client::generation(&g.id).await {
            Ok(next) => g = next,
            Err(_) => continue, // a dropped poll is retried after the next wait
        }
    }
}
