//! Mirroring a 20 MiB output from an HTTP source into each store: throughput against a plain
//! copy of the same object by curl into the same store (the ceiling: `curl -o file` for local
//! disk, `curl -T file` with SigV4 into s3s-fs for S3), and how much resident memory each
//! concurrent mirror adds (target < 16 MiB). S3 is measured twice: with the source's declared
//! length (one streamed PUT, what a job does when the provider sends `Content-Length`) and with
//! the length unknown (the multipart fallback). Run through scripts/bench-mirror.sh, which
//! serves the object and starts s3s-fs.
//!
//! Every measurement runs in a fresh child process (this binary, re-executed): its peak RSS
//! (`VmHWM`) minus its RSS before the mirrors is what those mirrors cost, with no earlier run's
//! allocator leftovers hiding any of it.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use fitroom_server::config::S3Config;
use fitroom_server::jobs::DownloadPolicy;
use fitroom_server::jobs::download;
use fitroom_server::storage::{LocalStorage, S3Storage, Storage};

const MIB: f64 = 1024.0 * 1024.0;
const CHILD: &str = "FITROOM_BENCH_MIRROR_CHILD";
const REPEATS: usize = 5;
const CONCURRENCY: [usize; 3] = [1, 4, 8];

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/bench-mirror.sh"))
}

async fn store(backend: &str, dir: &std::path::Path) -> Arc<dyn Storage> {
    match backend {
        "local" => Arc::new(LocalStorage::new(dir).await.expect("local store")),
        _ => Arc::new(
            S3Storage::new(&S3Config {
                endpoint: Some(var("FITROOM_BENCH_S3_ENDPOINT")),
                bucket: var("FITROOM_BENCH_S3_BUCKET"),
                region: "auto".into(),
                access_key_id: Some(var("FITROOM_BENCH_S3_ACCESS_KEY")),
                secret_access_key: Some(var("FITROOM_BENCH_S3_SECRET_KEY")),
                checksums_when_required: false,
                timeout_secs: 60,
            })
            .await,
        ),
    }
}

/// One mirror, exactly as a job does it: open (address checks, type sniffing), then stream.
/// `declared` false forgets the source's length, as for a chunked response.
async fn mirror(storage: &dyn Storage, url: &str, declared: bool) -> u64 {
    let policy = DownloadPolicy { max_bytes: 25 * 1024 * 1024, allow_private: true };
    let mut download = download::open(url.to_owned(), &policy).await.expect("open the source");
    if !declared {
        download.len = None;
    }
    let key = format!("bench/{}.{}", uuid::Uuid::new_v4().simple(), download.kind.extension());
    let stored = download::store(storage, &key, download).await.expect("store");
    storage.delete(&key).await.expect("delete");
    stored
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// The child: `n` concurrent mirrors into `backend`; prints seconds and peak RSS growth.
fn child(spec: &str) {
    let (backend, n) = spec.split_once(':').expect("backend:n");
    let n: usize = n.parse().expect("n");
    let declared = backend != "s3-unknown-length";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir_in(var("FITROOM_BENCH_DIR")).expect("dir");
        let storage = store(backend, dir.path()).await;
        // Warm up the SDK and the runtime on a small object, so that only the
        // 20 MiB mirrors are measured.
        mirror(storage.as_ref(), &var("FITROOM_BENCH_SMALL_URL"), declared).await;
        let url = var("FITROOM_BENCH_SOURCE_URL");
        let before = status_kib("VmRSS:");
        // Resets VmHWM to the current RSS (Linux ≥ 4.0).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let mirrors = (0..n).map(|_| {
            let (storage, url) = (storage.clone(), url.clone());
            tokio::spawn(async move { mirror(storage.as_ref(), &url, declared).await })
        });
        let mut bytes = 0;
        for m in mirrors.collect::<Vec<_>>() {
            bytes += m.await.expect("mirror");
        }
        let seconds = started.elapsed().as_secs_f64();
        let peak = status_kib("VmHWM:");
        println!("{seconds} {} {bytes}", peak.saturating_sub(before) * 1024);
    });
}

struct Run {
    seconds: f64,
    rss_growth: f64,
    bytes: f64,
}

fn run_child(backend: &str, n: usize) -> Run {
    let out = Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD, format!("{backend}:{n}"))
        .output()
        .expect("child runs");
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<f64> = text.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    match fields[..] {
        [seconds, rss_growth, bytes] => Run { seconds, rss_growth, bytes },
        _ => panic!("child printed {text:?}"),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Times `curl` with `args` over `REPEATS` runs: the median MiB/s for the 20 MiB object.
fn curl_mib_per_s(args: impl Fn(usize) -> Vec<String>) -> f64 {
    let bytes = std::fs::metadata(var("FITROOM_BENCH_SOURCE_FILE")).expect("source").len() as f64;
    let rates = (0..REPEATS)
        .map(|i| {
            let started = Instant::now();
            let status = Command::new("curl").args(args(i)).status().expect("curl runs");
            let seconds = started.elapsed().as_secs_f64();
            assert!(status.success(), "curl failed");
            bytes / MIB / seconds
        })
        .collect();
    median(rates)
}

/// The ceiling for local disk: `curl` copying the object to a file on the same disk.
fn curl_to_file() -> f64 {
    let target = std::path::Path::new(&var("FITROOM_BENCH_DIR")).join("curl-copy");
    let url = var("FITROOM_BENCH_SOURCE_URL");
    let rate = curl_mib_per_s(|_| {
        vec!["-sf".into(), "-o".into(), target.display().to_string(), url.clone()]
    });
    let _ = std::fs::remove_file(&target);
    rate
}

/// The ceiling for S3: `curl` uploading the object from disk into s3s-fs in one signed PUT
/// (payload unsigned, as curl 7.88 cannot hash a body it streams).
fn curl_into_s3() -> f64 {
    let endpoint = var("FITROOM_BENCH_S3_ENDPOINT");
    let bucket = var("FITROOM_BENCH_S3_BUCKET");
    let user =
        format!("{}:{}", var("FITROOM_BENCH_S3_ACCESS_KEY"), var("FITROOM_BENCH_S3_SECRET_KEY"));
    let file = var("FITROOM_BENCH_SOURCE_FILE");
    curl_mib_per_s(|i| {
        [
            "-sf",
            "-o",
            "/dev/null",
            "--aws-sigv4",
            "aws:amz:auto:s3",
            "--user",
            &user,
            "-H",
            "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            "-H",
            "Content-Type: image/png",
            "-T",
            &file,
            &format!("{endpoint}/{bucket}/bench/curl-{i}.png"),
        ]
        .map(str::to_owned)
        .to_vec()
    })
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    let to_file = curl_to_file();
    let into_s3 = curl_into_s3();
    println!(
        "curl -o file: {to_file:.0} MiB/s; curl -T into s3s-fs: {into_s3:.0} MiB/s (medians of {REPEATS})\n"
    );
    println!(
        "| store | mirror MiB/s (median of {REPEATS}) | % of curl into the same store | peak RSS growth, 1 mirror | per mirror, 4 concurrent | per mirror, 8 concurrent |"
    );
    println!("|---|---|---|---|---|---|");
    for (backend, ceiling) in [("local", to_file), ("s3", into_s3), ("s3-unknown-length", into_s3)]
    {
        let rate = median(
            (0..REPEATS)
                .map(|_| run_child(backend, 1))
                .map(|r| r.bytes / MIB / r.seconds)
                .collect(),
        );
        let per_mirror: Vec<String> = CONCURRENCY
            .iter()
            .map(|&n| format!("{:.1} MiB", run_child(backend, n).rss_growth / MIB / n as f64))
            .collect();
        println!(
            "| {backend} | {rate:.0} | {:.0} % | {} |",
            100.0 * rate / ceiling,
            per_mirror.join(" | ")
        );
    }
}
