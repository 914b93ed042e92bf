use leptos::prelude::*;

/// The first page: what Fitroom is, and a live part that only works once the wasm is running.
#[component]
pub fn HomePage() -> impl IntoView {
    let (hydrated, set_hydrated) = signal(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| set_hydrated.set(true));
    let (tried, set_tried) = signal(0u32);

    view! {
        <main class="mx-auto max-w-3xl px-4 py-10" data-hydrated=move || hydrated.get().to_string()>
            <h1 class="text-3xl font-bold tracking-tight">"Fitroom"</h1>
            <p class="mt-3 text-lg text-stone-700">
                "Upload a photo of yourself and a garment, spend a credit, and see yourself wearing it."
            </p>
            <section class="mt-8 rounded-xl border border-stone-200 bg-white p-6 shadow-sm" aria-labelledby="preview-title">
                <h2 id="preview-title" class="text-xl font-semibold">"Preview the fitting room"</h2>
                <button
                    type="button"
                    class="mt-4 rounded-lg bg-indigo-700 px-4 py-2 font-medium text-white hover:bg-indigo-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-700 disabled:opacity-60"
                    disabled=move || !hydrated.get()
                    on:click=move |_| set_tried.update(|n| *n += 1)
                >
                    "Spin the mirror"
                </button>
                <p class="mt-3" role="status" aria-live="polite">
                    {move || match tried.get() {
                        0 => "The mirror is still.".to_owned(),
                        1 => "The mirror turned once.".to_owned(),
                        n => format!("The mirror turned {n} times."),
                    }}
                </p>
            </section>
        </main>
    }
}
