//! A private s3s-fs process that a test may stop and start again (the one scripts/test.sh starts
//! is shared by every test and must stay up).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BUCKET: &str = "fitroom-outage";
const ACCESS_KEY: &str = "outage-key";
const SECRET_KEY: &str = "outage-secret";

pub struct S3sFs {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// scripts/test.sh installs it with `cargo install`, which puts it in ~/.cargo/bin.
fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("s3s-fs")).collect::<Vec<_>>())
        .unwrap_or_default();
    let in_cargo_home =
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo/bin/s3s-fs"));
    on_path
        .into_iter()
        .chain(in_cargo_home)
        .find(|p| p.is_file())
        .expect("s3s-fs is not installed: scripts/test.sh installs it (cargo install s3s-fs --features binary)")
}

impl S3sFs {
    /// On a free loopback port, with one empty bucket in a fresh directory.
    pub async fn start() -> S3sFs {
        let dir = tempfile::tempdir().expect("s3s-fs dir");
        std::fs::create_dir(dir.path().join(BUCKET)).expect("bucket dir");
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        let mut server = S3sFs { addr, dir, child: None };
        server.resume().await;
        server
    }

    /// The settings that point Fitroom at this server.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FITROOM_STORAGE", "s3".into()),
            ("S3_ENDPOINT", format!("http://{}", self.addr)),
            ("S3_BUCKET", BUCKET.into()),
            ("S3_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("S3_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ]
    }

    /// Kills the process: requests are refused until `resume`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port and directory, and waits until it accepts.
    pub async fn resume(&mut self) {
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &self.addr.port().to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        self.child = Some(child);
        for _ in 0..250 {
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("s3s-fs did not start listening on {}", self.addr);
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        self.stop();
    }
}
