//! `/admin/jobs/{id}`: one job's whole life, its stored images, and a cancel with a reason.

use fitroom_types::admin::JobTimeline;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{AdminOnly, CELL, DANGER, HEAD_ROW, INPUT, LINK, ROW, Scroll, TABLE, failed, when};
use crate::admin_api::{ConsoleCancelJob, console_job};

#[component]
pub fn JobPage() -> impl IntoView {
    view! { <AdminOnly><Job /></AdminOnly> }
}

#[component]
fn Job() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(move || params.read().get("id").unwrap_or_default(), console_job);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(timeline) => view! { <Details timeline /> }.into_any(),
                    Err(e) => view! { <h1 class="text-2xl font-bold">"Job"</h1> {failed(&e)} }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Details(timeline: JobTimeline) -> impl IntoView {
    let JobTimeline { job, events, images } = timeline;
    let g = job.generation.clone();
    let id = g.id.clone();
    let row = |label: &'static str, value: String| {
        view! {
            <div class="flex flex-wrap gap-x-2 border-b border-stone-200 py-1">
                <dt class="w-40 text-stone-700">{label}</dt>
                <dd class="break-all font-medium">{value}</dd>
            </div>
        }
    };
    view! {
        <h1 class="text-2xl font-bold">"Job " <span class="font-mono text-lg">{g.id.clone()}</span></h1>
        <dl class="mt-4 max-w-2xl text-sm">
            {row("Status", g.status.as_str().to_owned())}
            <div class="flex flex-wrap gap-x-2 border-b border-stone-200 py-1">
                <dt class="w-40 text-stone-700">"Shopper"</dt>
                <dd><a class=LINK href=format!("/admin/users/{}", job.user_id)>{job.email.clone()}</a></dd>
            </div>
            {row("Provider", g.provider.clone().unwrap_or_else(|| "–".into()))}
            {row("Task", job.task_id.clone().unwrap_or_else(|| "–".into()))}
            {row("Attempts", job.attempts.to_string())}
            {row("Cost (credits)", g.cost.to_string())}
            {row("Created (UTC)", when(&g.created_at))}
            {row("Submitted (UTC)", job.submitted_at.as_deref().map(when).unwrap_or_else(|| "–".into()))}
            {row("Finished (UTC)", job.finished_at.as_deref().map(when).unwrap_or_else(|| "–".into()))}
            {row("Error", match (&job.error_code, &g.error) {
                (Some(code), Some(text)) => format!("{code}: {text}"),
                (Some(code), None) => code.clone(),
                _ => "–".into(),
            })}
        </dl>
        {(!g.status.is_finished()).then(|| view! { <Cancel id=id.clone() /> })}
        <h2 class="mt-8 text-xl font-semibold">"Stored images"</h2>
        {if images.is_empty() {
            view! { <p class="mt-2 text-stone-700">"None: inputs are deleted after the retention period, and no result is stored."</p> }.into_any()
        } else {
            view! {
                <ul class="mt-3 flex flex-wrap gap-4">
                    {images.into_iter().map(|image| {
                        let src = format!("/api/admin/jobs/{}/images/{}", id, image.name);
                        let href = src.clone();
                        view! {
                            <li class="w-40">
                                <a href=href><img src=src alt=format!("The job's {} image", image.name) class="h-40 w-40 rounded-lg border border-stone-200 object-cover" /></a>
                                <p class="mt-1 text-sm text-stone-700">{image.name.clone()}</p>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        <h2 class="mt-8 text-xl font-semibold">"Timeline"</h2>
        <Scroll label="Timeline">
            <table class=TABLE>
                <thead><tr class=HEAD_ROW>
                    <th scope="col" class=CELL>"When (UTC)"</th>
                    <th scope="col" class=CELL>"Step"</th>
                    <th scope="col" class=CELL>"Detail"</th>
                </tr></thead>
                <tbody>
                    {events.into_iter().map(|e| view! {
                        <tr class=ROW data-testid="timeline-event">
                            <td class=format!("{CELL} whitespace-nowrap")>{e.at.get(..23).unwrap_or(&e.at).replace('T', " ")}</td>
                            <td class=format!("{CELL} font-medium")>{e.kind.clone()}</td>
                            <td class=format!("{CELL} break-all")>{e.detail.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </Scroll>
    }
}

#[component]
fn Cancel(id: String) -> impl IntoView {
    let cancel = ServerAction::<ConsoleCancelJob>::new();
    view! {
        <h2 class="mt-8 text-xl font-semibold">"Cancel this job"</h2>
        <ActionForm action=cancel attr:class="mt-2 flex max-w-2xl flex-wrap items-end gap-3">
            <input type="hidden" name="id" value=id />
            <div class="min-w-60 flex-1">
                <label class="block font-medium" for="cancel-reason">"Reason"</label>
                <input class=INPUT id="cancel-reason" name="reason" required maxlength="500" />
            </div>
            <button type="submit" class=DANGER>"Cancel job"</button>
        </ActionForm>
    }
}
