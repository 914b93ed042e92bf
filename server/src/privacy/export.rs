//! A copy of everything Fitroom keeps about a shopper, as one zip: `account.json`,
//! `generations.json`, `ledger.csv`, and every stored image (`images/<generation>/person.png`,
//! `garment.…`, `result.…`, `images/saved/<photo>.…`, `images/garments/<garment>.…`). Streamed
//! while it is written, a chunk at a time: no file on disk, no whole image in memory.

use std::cell::RefCell;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::rc::Rc;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::Serialize;
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::PrivacyError;
use crate::AppState;
use crate::ids::UserId;
use crate::jobs::Job;
use crate::storage::Read;

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

/// What the zip holds: small files made here, and the storage keys of the images.
struct Contents {
    files: Vec<(String, Vec<u8>)>,
    images: Vec<(String, String)>,
}

/// Everything the export says, read before the first byte is sent, so that a failure here is
/// still an error answer.
async fn contents(state: &AppState, user: &UserId) -> Result<Contents, PrivacyError> {
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
    let saved = photos
        .iter()
        .map(|(id, key)| (format!("images/saved/{id}.{}", ext_of(key)), key.clone()))
        .chain(
            garments
                .iter()
                .map(|(id, key)| (format!("images/garments/{id}.{}", ext_of(key)), key.clone())),
        );
    Ok(Contents {
        files: vec![
            ("account.json".into(), json(&account_file)?),
            ("generations.json".into(), json(&generations)?),
            ("ledger.csv".into(), ledger.into_bytes()),
        ],
        images: jobs.iter().flat_map(images_of).chain(saved).collect(),
    })
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, PrivacyError> {
    serde_json::to_vec_pretty(value).map_err(|e| PrivacyError::Export(e.to_string()))
}

/// One step of the zip, from the task that reads storage to the thread that writes the zip.
enum Piece {
    /// A new entry; `large` when it may pass 4 GiB (zip64).
    Start {
        name: String,
        large: bool,
    },
    Bytes(Bytes),
    /// Reading failed part way: the download must fail, not end as a zip that looks whole.
    Fail(String),
}

/// How many pieces and how many output chunks wait at most: the export holds a few chunks in
/// memory, never a whole image, however fast or slow the client reads.
const QUEUE: usize = 4;
/// The size of the chunks sent to the client.
const CHUNK: usize = 64 * 1024;

/// How many exports a process writes at once (`AppState::exports`); past that, 429 until one
/// ends.
pub const MAX_EXPORTS_AT_ONCE: usize = 8;

/// The zip being written, as a stream of chunks for the response body.
pub type ExportStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Reads what the export needs from the database, then streams the zip while it is written: a
/// task reads each stored image a chunk at a time and hands the chunks to a blocking thread that
/// writes the zip (stored entries with data descriptors, zip64 where needed) into the response
/// body. Nothing is written to disk. A client that goes away stops both.
pub async fn stream(state: &AppState, user: &UserId) -> Result<ExportStream, PrivacyError> {
    // The writer holds a blocking thread for as long as its client takes to read: a few slow
    // or stalled downloads must not take the threads password checks need.
    let slot = state.exports.clone().try_acquire_owned().map_err(|_| PrivacyError::ExportsBusy)?;
    let Contents { files, images } = contents(state, user).await?;
    let (pieces, receive_pieces) = mpsc::channel::<Piece>(QUEUE);
    let (chunks, receive_chunks) = mpsc::channel::<Result<Bytes, std::io::Error>>(QUEUE);
    tokio::task::spawn_blocking(move || {
        write_zip(receive_pieces, Outlet::new(chunks));
        drop(slot);
    });
    let storage = state.storage.clone();
    tokio::spawn(async move {
        let send = |piece| pieces.send(piece);
        for (name, bytes) in files {
            if send(Piece::Start { name, large: false }).await.is_err()
                || send(Piece::Bytes(bytes.into())).await.is_err()
            {
                return;
            }
        }
        for (name, key) in images {
            // An image deleted meanwhile (retention, the shopper) is simply not in the export.
            let mut object = match storage.read(&key, None).await {
                Ok(Read::Found(object)) => object,
                Ok(Read::Missing | Read::Unsatisfiable { .. }) => continue,
                Err(e) => {
                    let _ = send(Piece::Fail(e.to_string())).await;
                    return;
                }
            };
            let large = object.len >= u64::from(u32::MAX);
            if send(Piece::Start { name, large }).await.is_err() {
                return;
            }
            while let Some(chunk) = object.body.next().await {
                let piece = match chunk {
                    Ok(bytes) => Piece::Bytes(bytes),
                    Err(e) => Piece::Fail(e.to_string()),
                };
                if send(piece).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(futures_util::stream::unfold(receive_chunks, |mut chunks| async move {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    })
    .boxed())
}

/// The zip writer's thread: entries as they come, then the central directory.
fn write_zip(mut pieces: mpsc::Receiver<Piece>, outlet: Rc<Outlet>) {
    let mut zip = ZipWriter::new_stream(ChunkWriter { outlet: outlet.clone(), buffer: Vec::new() })
        .set_auto_large_file();
    // Stored, not deflated: the images are compressed already and the rest is small.
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let written = (|| -> Result<(), String> {
        while let Some(piece) = pieces.blocking_recv() {
            match piece {
                Piece::Start { name, large } => {
                    zip.start_file(name, options.large_file(large)).map_err(|e| e.to_string())?
                }
                Piece::Bytes(bytes) => zip.write_all(&bytes).map_err(|e| e.to_string())?,
                Piece::Fail(why) => return Err(why),
            }
        }
        let mut writer = zip.finish().map_err(|e| e.to_string())?.into_inner();
        writer.flush().map_err(|e| e.to_string())
    })();
    if let Err(why) = written {
        tracing::warn!(error = %why, "an export stopped before its end");
        outlet.fail(why);
    }
}

/// Where the zip's bytes go: the response body, until it is dropped. The writer and its thread
/// share it, so that a failure reaches the client before anything else the writer might add.
struct Outlet(RefCell<Option<mpsc::Sender<Result<Bytes, std::io::Error>>>>);

impl Outlet {
    fn new(chunks: mpsc::Sender<Result<Bytes, std::io::Error>>) -> Rc<Outlet> {
        Rc::new(Outlet(RefCell::new(Some(chunks))))
    }

    /// Sends a chunk, waiting while the client is behind. Once the client is gone (or the export
    /// failed) nothing more is sent, and the first write after says so, which stops the writer.
    fn send(&self, chunk: Bytes) -> std::io::Result<()> {
        let Some(chunks) = self.0.borrow().clone() else {
            return Ok(());
        };
        if chunks.blocking_send(Ok(chunk)).is_err() {
            self.0.borrow_mut().take();
            return Err(std::io::Error::new(ErrorKind::BrokenPipe, "the client went away"));
        }
        Ok(())
    }

    /// Ends the download with an error: the client sees a failed download, not a short zip.
    fn fail(&self, why: String) {
        if let Some(chunks) = self.0.borrow_mut().take() {
            let _ = chunks.blocking_send(Err(std::io::Error::other(why)));
        }
    }
}

/// A `std::io::Write` that hands the zip to the response body in chunks of `CHUNK` bytes.
struct ChunkWriter {
    outlet: Rc<Outlet>,
    buffer: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buffer.len();
        let taken = bytes.len().min(room);
        self.buffer.extend_from_slice(&bytes[..taken]);
        if self.buffer.len() == CHUNK {
            self.flush()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.outlet.send(Bytes::from(std::mem::take(&mut self.buffer)))
    }
}

/// Deletes the zips that exports written to disk by earlier versions may have left behind (a
/// crash or an abandoned download between writing and unlinking one). Exports stream now.
pub fn remove_leftovers(data_dir: &Path) {
    let Ok(dir) = std::fs::read_dir(data_dir.join("tmp")) else { return };
    for entry in dir.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with("export-")
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            tracing::warn!(error = %e, path = %entry.path().display(), "removing an old export failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_exports_left_on_disk_are_removed_and_nothing_else() {
        let data = tempfile::tempdir().expect("dir");
        let tmp = data.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("tmp");
        std::fs::write(tmp.join("export-1234.zip"), b"someone's photos").expect("write");
        std::fs::write(tmp.join("upload-5678"), b"not an export").expect("write");
        remove_leftovers(data.path());
        assert!(!tmp.join("export-1234.zip").exists());
        assert!(tmp.join("upload-5678").exists());
        remove_leftovers(&data.path().join("missing"));
    }
}
