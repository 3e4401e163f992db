//! A real S3-compatible server that verifies SigV4 signatures: `s3s-fs`, installed by
//! `.ci/run` (`cargo install s3s-fs --version 0.14.1 --locked --features binary`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "maskflow-test-access";
pub const SECRET_KEY: &str = "maskflow-test-secret-k3y";
pub const BUCKET: &str = "maskflow";
const DATA: &str = "data";
const LOG: &str = "requests.log";

pub struct S3 {
    child: Child,
    pub endpoint: String,
    root: tempfile::TempDir,
}

impl S3 {
    pub fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(DATA).join(BUCKET)).unwrap();
        // s3s-fs cannot report the port it bound, so take a free one first.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = std::env::var("S3S_FS").unwrap_or_else(|_| "s3s-fs".to_owned());
        // Its request log (one `req: Request { method: GET, uri: ... }` line per request) is
        // how tests count what a run downloaded, on the server's side. Kept outside the
        // served folder.
        let log = std::fs::File::create(root.path().join(LOG)).unwrap();
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path().join(DATA))
            .env("RUST_LOG", "s3s::service=debug")
            .env("NO_COLOR", "1")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {binary} ({e}): install it with `cargo install s3s-fs --version 0.14.1 --locked --features binary`, as .ci/run does")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            root,
        }
    }

    /// Where object `key` of the test bucket lives on disk.
    pub fn object(&self, key: &str) -> PathBuf {
        self.root.path().join(DATA).join(BUCKET).join(key)
    }

    /// Puts a file straight into the bucket's folder.
    pub fn put_file(&self, key: &str, from: &Path) {
        let to = self.object(key);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }

    /// The keys under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let dir = self.object(prefix);
        let mut keys: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|name| !name.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// How many object bodies were requested so far: GETs of a key (a listing is a GET of the
    /// bucket with a query).
    pub fn object_gets(&self) -> usize {
        let log = std::fs::read_to_string(self.root.path().join(LOG)).unwrap_or_default();
        log.lines()
            .filter_map(|line| line.split("method: GET, uri: ").nth(1))
            .filter_map(|rest| rest.split(',').next())
            .filter(|uri| uri.starts_with(&format!("/{BUCKET}/")) && !uri.contains('?'))
            .count()
    }

    /// The server's request log: each request's method, URI and headers.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join(LOG)).unwrap_or_default()
    }

    /// How many requests of any kind the server answered so far.
    pub fn requests(&self) -> usize {
        let log = std::fs::read_to_string(self.root.path().join(LOG)).unwrap_or_default();
        log.matches("req: Request {").count()
    }

    /// The environment a client signs with.
    pub fn credentials(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
