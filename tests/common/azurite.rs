//! Azurite, Microsoft's Azure Storage emulator (npm, pinned in `tests/azurite/`), which
//! checks Shared Key and SAS signatures (service and user-delegation) as Azure does, and in
//! https mode Entra ID bearer tokens (their claims, not their signatures).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

pub const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's documented development key: public, not a secret.
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct Azurite {
    child: Child,
    /// The blob endpoint, account included (Azurite names the account in the path).
    pub endpoint: String,
    _data: tempfile::TempDir,
}

impl Azurite {
    pub fn start() -> Self {
        Self::start_with(&[], "http")
    }

    /// Over https with the private CA's server certificate, accepting Entra ID bearer tokens
    /// (`--oauth basic`, which needs https) besides Shared Key and SAS. This process must
    /// trust the CA for the helpers below: use `Tls::trusted()`.
    pub fn start_https_oauth(tls: &super::tls::Tls) -> Self {
        let cert = tls.cert_file.to_str().unwrap();
        let key = tls.key_file.to_str().unwrap();
        Self::start_with(&["--cert", cert, "--key", key, "--oauth", "basic"], "https")
    }

    fn start_with(extra: &[&str], scheme: &str) -> Self {
        let dir = super::repo().join("tests/azurite");
        // Once per test process: `npm ci` first deletes node_modules, which would pull
        // Azurite from under a test running beside this one.
        static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let installed = INSTALLED.get_or_init(|| {
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("npm is needed for the Azure tests (Node.js 20+)")
                .success()
        });
        assert!(installed, "npm ci failed in tests/azurite");
        let data = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(dir.join("node_modules/.bin/azurite-blob"))
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(data.path())
            .args(extra)
            .arg("--silent")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("azurite-blob starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "Azurite did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("{scheme}://127.0.0.1:{port}/{ACCOUNT}"),
            _data: data,
        }
    }

    pub fn create_container(&self, name: &str) {
        let status = self.shared_key("PUT", &format!("/{name}"), &[("restype", "container")], &[]);
        assert_eq!(status, 201, "create container {name}");
    }

    pub fn put_blob(&self, path: &str, bytes: &[u8]) {
        let status = self.shared_key("PUT", &format!("/{path}"), &[], bytes);
        assert_eq!(status, 201, "put blob {path}");
    }

    /// A service SAS for a whole container, as the Azure portal or `az storage container
    /// generate-sas` hands one to a user: `permissions` such as `rl`, valid for an hour.
    pub fn container_sas(&self, container: &str, permissions: &str) -> String {
        let version = "2022-11-02";
        let expiry = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(1))
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let resource = format!("/blob/{ACCOUNT}/{container}");
        // The sixteen fields of a service SAS, version 2020-12-06 and later.
        let string_to_sign = [
            permissions,
            "",
            &expiry,
            &resource,
            "",
            "",
            "",
            version,
            "c",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n");
        let key = base64::engine::general_purpose::STANDARD
            .decode(KEY)
            .unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let signature = base64::engine::general_purpose::STANDARD
            .encode(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
        let encode =
            |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        format!(
            "sv={version}&sr=c&sp={permissions}&se={}&sig={}",
            encode(&expiry),
            encode(&signature)
        )
    }

    /// A request signed with the account key (Shared Key), as Azure's own tools send it.
    fn shared_key(&self, method: &str, path: &str, query: &[(&str, &str)], body: &[u8]) -> u16 {
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let content_type = "application/octet-stream";
        let length = if body.is_empty() {
            String::new()
        } else {
            body.len().to_string()
        };
        let blob_type = if query.is_empty() {
            "x-ms-blob-type:BlockBlob\n"
        } else {
            ""
        };
        let mut resource = format!("/{ACCOUNT}/{ACCOUNT}{path}");
        for (k, v) in query {
            resource.push_str(&format!("\n{k}:{v}"));
        }
        let string_to_sign = format!(
            "{method}\n\n\n{length}\n\n{content_type}\n\n\n\n\n\n\n{blob_type}x-ms-date:{date}\nx-ms-version:2021-08-06\n{resource}"
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(KEY)
            .unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let signature = base64::engine::general_purpose::STANDARD
            .encode(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
        let query: String = query.iter().map(|(k, v)| format!("{k}={v}&")).collect();
        let url = format!("{}{path}?{query}", self.endpoint);
        let request = || {
            let request = maskflow::http::Request::new(maskflow::http::Method::Put, &url)
                .header("Content-Type", content_type)
                .header("x-ms-date", date.clone())
                .header("x-ms-version", "2021-08-06")
                .header("Authorization", format!("SharedKey {ACCOUNT}:{signature}"))
                .bytes(body.to_vec());
            if blob_type.is_empty() {
                request
            } else {
                request.header("x-ms-blob-type", "BlockBlob")
            }
        };
        assert_eq!(method, "PUT");
        let client = maskflow::http::Client::new(std::time::Duration::from_secs(30));
        // Azurite may take its first connections before it answers them (a loaded machine,
        // https): a request that never reached it is tried again, briefly.
        let mut attempts = 0;
        loop {
            match client.send(request()) {
                Ok(response) => return response.status(),
                Err(e) if e.not_sent() && attempts < 5 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => panic!("Azurite setup {path}: {e}"),
            }
        }
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
