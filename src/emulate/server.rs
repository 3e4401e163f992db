//! Binds the port and serves each connection on its own thread, up to `max_connections` at
//! once: beyond that a connection gets 503 at once and is closed, so a flood of sockets
//! costs a bounded number of threads. A request head must fit in `max_header_bytes` (else
//! 431) and arrive within `HEADER_TIMEOUT` (else 408), so slow or huge headers hold
//! neither memory nor a thread for long. Handlers only touch in-memory state.

use std::io::{BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::http::Response;
use super::jobs::Jobs;
use super::routes::State;
use super::wire::{self, ReadError};
use super::{Config, EmulateError};

/// From the first byte of a request to the end of its head.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive connection may wait for its next request. Longer than common
/// clients keep idle connections (maskflow: 15 s), so they, not we, close them.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// For reading a body and for writing a response.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(30);
/// After an error answer, how much of the rest of the request is read and dropped, so that
/// the client sees the answer instead of a reset.
const LINGER: (Duration, u64) = (Duration::from_secs(2), 8 * 1024 * 1024);

/// A listening emulator.
pub struct Running {
    pub base_url: String,
    pub state: Arc<State>,
    address: SocketAddr,
    stopping: Arc<AtomicBool>,
    acceptor: std::thread::JoinHandle<()>,
}

impl Running {
    /// Serves until the process is killed.
    pub fn wait(self) {
        let _ = self.acceptor.join();
    }

    /// Stops accepting (used by in-process tests; the CLI just gets killed).
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        self.wait();
    }
}

/// Binds `host:port` and starts the workers and the accept loop.
pub fn start(config: Config) -> Result<Running, EmulateError> {
    config.check()?;
    let bind_error = |message: String| EmulateError::Bind {
        address: format!("{}:{}", config.host, config.port),
        message,
    };
    let listener = TcpListener::bind((config.host.as_str(), config.port))
        .map_err(|e| bind_error(e.to_string()))?;
    let address = listener
        .local_addr()
        .map_err(|e| bind_error(e.to_string()))?;
    let base_url = format!("http://{address}");
    let jobs = Jobs::start(
        config.workers,
        crate::engine::DecodeLimits {
            max_pixels: config.max_pixels,
        },
    );
    let state = Arc::new(State::new(config, base_url.clone(), jobs));
    let stopping = Arc::new(AtomicBool::new(false));
    let acceptor = {
        let (state, stopping) = (Arc::clone(&state), Arc::clone(&stopping));
        std::thread::spawn(move || accept(&listener, &state, &stopping))
    };
    Ok(Running {
        base_url,
        state,
        address,
        stopping,
        acceptor,
    })
}

fn accept(listener: &TcpListener, state: &Arc<State>, stopping: &AtomicBool) {
    let active = Arc::new(AtomicUsize::new(0));
    let max = state.config.max_connections.max(1);
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(stream) => stream,
            // Out of file descriptors, say: wait a little rather than spin.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if active.load(Ordering::SeqCst) >= max {
            refuse(stream);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(Arc::clone(&active));
        let state = Arc::clone(state);
        // Without a thread, the closure is dropped with its slot and socket: a plain close.
        let _ = std::thread::Builder::new()
            .name("emulate-connection".to_owned())
            .spawn(move || {
                let _slot = slot;
                serve(stream, &state);
            });
    }
}

/// Frees a connection slot when its thread ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// 503 for a connection over the cap, from the accept loop: it must not block, so it reads
/// only what has already arrived and writes a small answer the socket buffer takes whole.
fn refuse(stream: TcpStream) {
    let response =
        error(503, "too many connections; retry later").with_header("Retry-After", "1".to_owned());
    let _ = stream.set_nonblocking(true);
    let mut drained = [0u8; 16 * 1024];
    let _ = (&stream).read(&mut drained);
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = wire::write_response(&mut &stream, &response, false, false, 0);
    let _ = stream.shutdown(Shutdown::Write);
}

fn error(status: u16, message: &str) -> Response {
    Response::json(
        status,
        &serde_json::json!({"error_code": status.to_string(), "message": message}),
    )
}

/// A socket whose reads fail with `TimedOut` once `deadline` has passed, however slowly
/// the bytes come: a per-read timeout alone lets a client send one byte a second forever.
struct Deadlined {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

fn serve(stream: TcpStream, state: &State) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(TRANSFER_TIMEOUT));
    let Ok(reading) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(
        8 * 1024,
        Deadlined {
            stream: reading,
            deadline: Instant::now() + IDLE_TIMEOUT,
        },
    );
    let max_head = state.config.max_header_bytes;
    loop {
        // Idle until the first byte of the next request, then the head's own deadline.
        reader.get_mut().deadline = Instant::now() + IDLE_TIMEOUT;
        match std::io::BufRead::fill_buf(&mut reader) {
            Ok([]) | Err(_) => return,
            Ok(_) => {}
        }
        reader.get_mut().deadline = Instant::now() + HEADER_TIMEOUT;
        let head = wire::read_head(&mut reader, max_head);
        reader.get_mut().deadline = Instant::now() + TRANSFER_TIMEOUT;
        let incoming = head.and_then(|head| match head {
            Some(head) => wire::read_request(&mut reader, &mut &stream, head),
            None => Err(ReadError::Closed),
        });
        let incoming = match incoming {
            Ok(incoming) => incoming,
            Err(failure) => {
                let response = match failure {
                    ReadError::Closed => return,
                    ReadError::HeadTooLarge => error(
                        431,
                        &format!("request headers are larger than {max_head} bytes"),
                    ),
                    ReadError::BodyTooLarge => error(413, "request body too large"),
                    ReadError::Malformed(why) => error(400, why),
                    ReadError::Io(e)
                        if e.kind() == std::io::ErrorKind::TimedOut
                            || e.kind() == std::io::ErrorKind::WouldBlock =>
                    {
                        error(408, "the request took too long to arrive")
                    }
                    ReadError::Io(_) => return,
                };
                answer_and_close(&stream, reader, &response);
                return;
            }
        };
        let request = &incoming.request;
        // As Adobe's gateway does, every answer names its request for support.
        let response = state
            .handle(request)
            .with_header("x-request-id", format!("emu-{:016x}", fastrand::u64(..)));
        let head_only = request.method == "HEAD";
        let written = wire::write_response(
            &mut &stream,
            &response,
            incoming.keep_alive,
            head_only,
            IDLE_TIMEOUT.as_secs(),
        );
        if written.is_err() || !incoming.keep_alive {
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
    }
}

/// Answers an error and closes, reading (a bounded part of) what the client still sends
/// so that it gets the answer rather than a connection reset.
fn answer_and_close(stream: &TcpStream, mut reader: BufReader<Deadlined>, response: &Response) {
    if wire::write_response(&mut &*stream, response, false, false, 0).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    reader.get_mut().deadline = Instant::now() + LINGER.0;
    let _ = std::io::copy(&mut reader.take(LINGER.1), &mut std::io::sink());
}
