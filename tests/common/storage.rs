//! A stand-in for a bucket reached through pre-signed URLs: a tiny HTTP server on
//! 127.0.0.1 serving a directory. Every request must carry `?sig=<signature>` (else 403),
//! like a presigned URL; GET, HEAD and PUT work on the files; requests are counted per
//! method so tests can prove how often a service read or wrote. Dropping it stops it.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

#[derive(Default)]
struct Counts {
    gets: AtomicUsize,
    heads: AtomicUsize,
    puts: AtomicUsize,
    not_modified: AtomicUsize,
}

pub struct Storage {
    base_url: String,
    signature: String,
    server: Arc<tiny_http::Server>,
    counts: Arc<Counts>,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Storage {
    pub fn start(dir: &Path, signature: &str) -> Storage {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind storage"));
        let address = server.server_addr().to_ip().expect("an IP address");
        let counts = Arc::new(Counts::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let threads = (0..4)
            .map(|_| {
                let server = Arc::clone(&server);
                let counts = Arc::clone(&counts);
                let stopping = Arc::clone(&stopping);
                let (dir, signature) = (dir.to_owned(), signature.to_owned());
                std::thread::spawn(move || {
                    loop {
                        match server.recv() {
                            Ok(request) => serve(request, &dir, &signature, &counts),
                            Err(_) if stopping.load(Ordering::SeqCst) => return,
                            Err(_) => {}
                        }
                    }
                })
            })
            .collect();
        Storage {
            base_url: format!("http://{address}"),
            signature: signature.to_owned(),
            server,
            counts,
            stopping,
            threads,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The "pre-signed" URL of `path` (relative to the directory).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{path}?sig={}", self.base_url, self.signature)
    }

    pub fn gets(&self) -> usize {
        self.counts.gets.load(Ordering::SeqCst)
    }

    pub fn heads(&self) -> usize {
        self.counts.heads.load(Ordering::SeqCst)
    }

    /// GETs answered `304 Not Modified` (an `If-None-Match` with the current ETag): no body.
    pub fn not_modified(&self) -> usize {
        self.counts.not_modified.load(Ordering::SeqCst)
    }

    pub fn puts(&self) -> usize {
        self.counts.puts.load(Ordering::SeqCst)
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in &self.threads {
            self.server.unblock();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn serve(mut request: tiny_http::Request, dir: &Path, signature: &str, counts: &Counts) {
    use tiny_http::Method;
    let counter = match request.method() {
        Method::Get => Some(&counts.gets),
        Method::Head => Some(&counts.heads),
        Method::Put => Some(&counts.puts),
        _ => None,
    };
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    let url = url::Url::parse(&format!("http://storage{}", request.url())).expect("a request URL");
    let sig = url
        .query_pairs()
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned());
    let status = |code: u16| tiny_http::Response::empty(code);
    if sig.as_deref() != Some(signature) {
        let _ = request.respond(status(403));
        return;
    }
    let Some(path) = local_path(dir, url.path()) else {
        let _ = request.respond(status(400));
        return;
    };
    let _ = match request.method() {
        Method::Get | Method::Head => match std::fs::read(&path) {
            Ok(bytes) => {
                // A strong ETag of the content, as object stores send, honoured in
                // `If-None-Match` like theirs.
                let etag = format!("\"{}\"", blake3::hash(&bytes).to_hex());
                let unchanged = request
                    .headers()
                    .iter()
                    .any(|h| h.field.equiv("If-None-Match") && h.value.as_str() == etag);
                if unchanged {
                    counts.not_modified.fetch_add(1, Ordering::SeqCst);
                    request.respond(status(304))
                } else {
                    let header = tiny_http::Header::from_bytes("ETag", etag.as_bytes())
                        .expect("a valid header");
                    request.respond(tiny_http::Response::from_data(bytes).with_header(header))
                }
            }
            Err(_) => request.respond(status(404)),
        },
        Method::Put => {
            let mut body = Vec::new();
            let written = request.as_reader().read_to_end(&mut body).is_ok()
                && path
                    .parent()
                    .is_some_and(|p| std::fs::create_dir_all(p).is_ok())
                && std::fs::write(&path, &body).is_ok();
            request.respond(status(if written { 200 } else { 500 }))
        }
        _ => request.respond(status(405)),
    };
}

/// `url_path` inside `dir`, refusing anything that could leave it.
fn local_path(dir: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(url_path.trim_start_matches('/'))?;
    let relative = Path::new(&decoded);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(relative))
}

fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = [bytes.next()?, bytes.next()?]
                .iter()
                .map(|&b| char::from(b))
                .collect();
            out.push(u8::from_str_radix(&hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}
