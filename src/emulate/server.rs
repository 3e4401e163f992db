//! Binds the port and answers requests on a few threads with tiny_http. Handlers only
//! touch in-memory state, so a handful of threads serve many polling clients.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::http::{Request, Response};
use super::jobs::Jobs;
use super::routes::{MAX_BODY, State};
use super::{Config, EmulateError};

/// A listening emulator.
pub struct Running {
    pub base_url: String,
    pub state: Arc<State>,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    handlers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Serves until the process is killed.
    pub fn wait(self) {
        for handler in self.handlers {
            let _ = handler.join();
        }
    }

    /// Stops answering (used by in-process tests; the CLI just gets killed).
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        for _ in 0..self.handlers.len() {
            self.server.unblock();
        }
        self.wait();
    }
}

/// Binds `host:port` and starts the workers and the request handlers.
pub fn start(config: Config) -> Result<Running, EmulateError> {
    config.check()?;
    let address = format!("{}:{}", config.host, config.port);
    let bind_error = |message: String| EmulateError::Bind {
        address: address.clone(),
        message,
    };
    let server =
        tiny_http::Server::http(address.as_str()).map_err(|e| bind_error(e.to_string()))?;
    let local = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| bind_error("not an IP address".to_owned()))?;
    let base_url = format!("http://{local}");
    let jobs = Jobs::start(
        config.workers,
        crate::engine::DecodeLimits {
            max_pixels: config.max_pixels,
        },
    );
    let handlers = config.handlers.max(1);
    let state = Arc::new(State::new(config, base_url.clone(), jobs));
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    let handlers = (0..handlers)
        .map(|_| {
            let (server, state, stopping) = (
                Arc::clone(&server),
                Arc::clone(&state),
                Arc::clone(&stopping),
            );
            std::thread::spawn(move || serve(&server, &state, &stopping))
        })
        .collect();
    Ok(Running {
        base_url,
        state,
        server,
        stopping,
        handlers,
    })
}

fn serve(server: &tiny_http::Server, state: &State, stopping: &AtomicBool) {
    loop {
        let mut incoming = match server.recv() {
            Ok(incoming) => incoming,
            // A failed accept is transient; only `stop` ends the loop.
            Err(_) if stopping.load(Ordering::SeqCst) => return,
            Err(_) => continue,
        };
        let response = match read(&mut incoming) {
            Ok(request) => state.handle(&request),
            Err(response) => response,
        };
        let mut reply =
            tiny_http::Response::from_data(response.body).with_status_code(response.status);
        for (name, value) in response.headers {
            if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                reply.add_header(header);
            }
        }
        // A client that hung up is not the emulator's problem.
        let _ = incoming.respond(reply);
    }
}

fn read(incoming: &mut tiny_http::Request) -> Result<Request, Response> {
    let (path, query) = match incoming.url().split_once('?') {
        Some((path, query)) => (path.to_owned(), query.to_owned()),
        None => (incoming.url().to_owned(), String::new()),
    };
    let headers = incoming
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    let too_large = || {
        Response::json(
            413,
            &serde_json::json!({"error_code": "413", "message": "request body too large"}),
        )
    };
    incoming
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| Response::json(400, &serde_json::json!({"error_code": "400", "message": "cannot read the request body"})))?;
    if body.len() > MAX_BODY {
        return Err(too_large());
    }
    Ok(Request {
        method: incoming.method().as_str().to_ascii_uppercase(),
        path,
        query,
        headers,
        body,
    })
}
