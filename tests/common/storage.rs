//! A folder served over HTTP on 127.0.0.1, standing in for a bucket reached through
//! pre-signed URLs: every request must carry the right `sig` query parameter.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Storage {
    server: Arc<tiny_http::Server>,
    base_url: String,
    signature: String,
    counts: Arc<Counts>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Counts {
    gets: AtomicUsize,
    puts: AtomicUsize,
    refused: AtomicUsize,
}

impl Storage {
    pub fn start(root: &Path, signature: &str) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let counts = Arc::new(Counts::default());
        let thread = {
            let (server, counts) = (server.clone(), counts.clone());
            let (root, signature) = (root.to_owned(), signature.to_owned());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    serve(request, &root, &signature, &counts);
                }
            })
        };
        Self {
            server,
            base_url: format!("http://127.0.0.1:{port}"),
            signature: signature.to_owned(),
            counts,
            thread: Some(thread),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The "pre-signed" URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}?sig={}", self.base_url, self.signature)
    }

    pub fn gets(&self) -> usize {
        self.counts.gets.load(Ordering::SeqCst)
    }

    pub fn puts(&self) -> usize {
        self.counts.puts.load(Ordering::SeqCst)
    }

    /// Requests refused for a missing or wrong signature.
    pub fn refused(&self) -> usize {
        self.counts.refused.load(Ordering::SeqCst)
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut request: tiny_http::Request, root: &Path, signature: &str, counts: &Counts) {
    let url = url::Url::parse(&format!("http://x{}", request.url())).unwrap();
    let signed = url.query_pairs().any(|(k, v)| k == "sig" && v == signature);
    let path: PathBuf = url
        .path_segments()
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty() && *s != "..")
        .collect();
    let file = root.join(path);
    let respond = |request: tiny_http::Request, code: u16, body: Vec<u8>| {
        let _ = request.respond(tiny_http::Response::from_data(body).with_status_code(code));
    };
    if !signed {
        counts.refused.fetch_add(1, Ordering::SeqCst);
        return respond(request, 403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>".to_vec());
    }
    match request.method() {
        tiny_http::Method::Get | tiny_http::Method::Head => {
            counts.gets.fetch_add(1, Ordering::SeqCst);
            match std::fs::read(&file) {
                Ok(bytes) => respond(request, 200, bytes),
                Err(_) => respond(request, 404, b"NoSuchKey".to_vec()),
            }
        }
        tiny_http::Method::Put => {
            counts.puts.fetch_add(1, Ordering::SeqCst);
            let mut body = Vec::new();
            std::io::Read::read_to_end(request.as_reader(), &mut body).unwrap();
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, body).unwrap();
            respond(request, 200, Vec::new());
        }
        _ => respond(request, 405, Vec::new()),
    }
}
