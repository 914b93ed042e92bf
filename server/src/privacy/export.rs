//! A copy of everything Fitroom keeps about a shopper, as one zip: `account.json`,
//! `generations.json`, `ledger.csv`, and every stored image (`images/<generation>/person.png`,
//! `garment.…`, `result.…`). Written to a file under the data directory by a blocking thread,
//! one image in memory at a time, then streamed; the file is unlinked as soon as it is open.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use zip::write::SimpleFileOptions;

use super::PrivacyError;
use crate::AppState;
use crate::ids::UserId;
use crate::jobs::Job;

#[derive(Serialize)]
struct AccountFile {
    id: String,
    email: String,
    created_at: String,
    email_verified: bool,
    available: i64,
    held: i64,
    packages: Vec<fitroom_types::Package>,
}

#[derive(Serialize)]
struct GenerationFile {
    #[serde(flatten)]
    generation: fitroom_types::Generation,
    prompt: Option<String>,
    aspect_ratio: Option<String>,
    /// The images of this generation in the zip.
    images: Vec<String>,
}

/// What goes into the zip, one entry at a time.
enum Entry {
    File(String, Vec<u8>),
    Done,
}

fn ext_of(key: &str) -> &str {
    key.rsplit_once('.').map_or("bin", |(_, ext)| ext)
}

/// `(name in the zip, storage key)` of each image a job still has.
fn images_of(job: &Job) -> Vec<(String, String)> {
    [("person", &job.person_key), ("garment", &job.garment_key), ("result", &job.result_key)]
        .into_iter()
        .filter_map(|(name, key)| {
            key.as_ref().map(|k| (format!("images/{}/{name}.{}", job.id, ext_of(k)), k.clone()))
        })
        .collect()
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Builds the export and answers the path of the finished zip.
pub async fn write(state: &AppState, user: &UserId) -> Result<PathBuf, PrivacyError> {
    let account =
        state.accounts.user(user).await?.ok_or(crate::accounts::AccountsError::NotFound)?;
    let created: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_optional(state.db.pool())
        .await
        .map_err(crate::accounts::AccountsError::from)?;
    let balance = state.ledger.balance(user).await?;
    let entries = state.ledger.entries(user, u32::MAX).await?;
    let jobs = state.jobs.list(user, u32::MAX).await?;
    let photos = crate::photos::keys_of(&state.db, user).await?;
    let garments = crate::garments::keys_of(state, user).await?;

    let account_file = AccountFile {
        id: account.id.to_string(),
        email: account.email,
        created_at: crate::clock::Timestamp::from_millis(created.map_or(0, |(c,)| c)).to_rfc3339(),
        email_verified: state.accounts.email_verified(user).await?,
        available: balance.available.get(),
        held: balance.held.get(),
        packages: balance.packages.iter().map(|p| p.view(balance.now)).collect(),
    };
    let generations: Vec<GenerationFile> = jobs
        .iter()
        .map(|job| GenerationFile {
            generation: job.generation(&state.config.public_url),
            prompt: job.prompt.clone(),
            aspect_ratio: job.aspect_ratio.clone(),
            images: images_of(job).into_iter().map(|(name, _)| name).collect(),
        })
        .collect();
    let mut ledger = String::from("at,kind,amount,package_id,hold_id,job_id\n");
    for e in entries.iter().map(crate::ledger::Entry::view) {
        let line = [
            e.at,
            e.kind,
            e.amount.to_string(),
            e.package_id.unwrap_or_default(),
            e.hold_id.unwrap_or_default(),
            e.job_id.unwrap_or_default(),
        ]
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
        ledger.push_str(&line);
        ledger.push('\n');
    }

    let dir = state.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&dir).await.map_err(|e| PrivacyError::Export(e.to_string()))?;
    let path = dir.join(format!("export-{}.zip", uuid::Uuid::new_v4()));
    let (send, mut receive) = tokio::sync::mpsc::channel::<Entry>(1);
    let target = path.clone();
    // The zip is written by a blocking thread, fed one entry at a time.
    let writer = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let file = std::fs::File::create(&target).map_err(|e| e.to_string())?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        // Stored, not deflated: the images are compressed already and the rest is small.
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(false);
        while let Some(Entry::File(name, bytes)) = receive.blocking_recv() {
            zip.start_file(name, options).map_err(|e| e.to_string())?;
            zip.write_all(&bytes).map_err(|e| e.to_string())?;
        }
        let mut inner = zip.finish().map_err(|e| e.to_string())?;
        inner.flush().map_err(|e| e.to_string())
    });
    let sent = async {
        let feed = |name: &str, bytes: Vec<u8>| send.send(Entry::File(name.to_owned(), bytes));
        let closed = || PrivacyError::Export("the zip writer stopped".into());
        feed("account.json", json(&account_file)?).await.map_err(|_| closed())?;
        feed("generations.json", json(&generations)?).await.map_err(|_| closed())?;
        feed("ledger.csv", ledger.into_bytes()).await.map_err(|_| closed())?;
        let saved =
            photos
                .iter()
                .map(|(id, key)| (format!("images/saved/{id}.{}", ext_of(key)), key.clone()))
                .chain(garments.iter().map(|(id, key)| {
                    (format!("images/garments/{id}.{}", ext_of(key)), key.clone())
                }));
        for (name, key) in jobs.iter().flat_map(images_of).chain(saved) {
            {
                // An image retention deleted meanwhile is simply not in the export.
                if let Some(object) = state.storage.get(&key).await? {
                    feed(&name, object.bytes.to_vec()).await.map_err(|_| closed())?;
                }
            }
        }
        let _ = send.send(Entry::Done).await;
        Ok::<_, PrivacyError>(())
    }
    .await;
    drop(send);
    let written = writer.await.map_err(|e| PrivacyError::Export(e.to_string()))?;
    if let Err(e) = sent.and(written.map_err(PrivacyError::Export)) {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e);
    }
    Ok(path)
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, PrivacyError> {
    serde_json::to_vec_pretty(value).map_err(|e| PrivacyError::Export(e.to_string()))
}
