//! HTTP/1.1 on the wire, bounded: a request head is read only up to a byte limit (431
//! beyond it), a body only up to `MAX_BODY` (413), and nothing is allocated from a size a
//! client announced. Generic over readers and writers, so it is tested without sockets.

use std::io::{self, BufRead, Read, Write};

use super::http::{Request, Response};
use super::routes::MAX_BODY;

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed the connection between requests: nothing to answer.
    Closed,
    /// The request head is over the limit: answer 431.
    HeadTooLarge,
    /// The announced or sent body is over `MAX_BODY`: answer 413.
    BodyTooLarge,
    /// Not HTTP/1.x as we read it: answer 400 with this message.
    Malformed(&'static str),
    /// The socket timed out or failed: 408 when it timed out, else nothing.
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// A request, and whether the connection may carry another one after it.
#[derive(Debug)]
pub struct Incoming {
    pub request: Request,
    pub keep_alive: bool,
}

/// Reads the request head (request line and headers), at most `max_head` bytes of it.
/// Leading empty lines are skipped, as RFC 9112 allows. `Ok(None)` means a clean EOF
/// before the first byte.
pub fn read_head(
    reader: &mut impl BufRead,
    max_head: usize,
) -> Result<Option<Vec<String>>, ReadError> {
    let mut lines = Vec::new();
    let mut used = 0usize;
    let mut line = Vec::new();
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return if used == 0 {
                Ok(None)
            } else {
                Err(ReadError::Malformed(
                    "the connection closed inside the request head",
                ))
            };
        }
        let (take, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        if used + take > max_head {
            return Err(ReadError::HeadTooLarge);
        }
        line.extend_from_slice(&available[..take]);
        reader.consume(take);
        used += take;
        if !complete {
            continue;
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let text = String::from_utf8(std::mem::take(&mut line))
            .map_err(|_| ReadError::Malformed("the request head is not UTF-8"))?;
        match (text.is_empty(), lines.is_empty()) {
            (true, true) => {}
            (true, false) => return Ok(Some(lines)),
            (false, _) => lines.push(text),
        }
    }
}

/// Parses a request head and reads its body from `reader`. `continue_to` gets the interim
/// `100 Continue` a client that sent `Expect: 100-continue` waits for.
pub fn read_request(
    reader: &mut impl BufRead,
    continue_to: &mut impl Write,
    head: Vec<String>,
) -> Result<Incoming, ReadError> {
    let mut lines = head.into_iter();
    let request_line = lines
        .next()
        .ok_or(ReadError::Malformed("no request line"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed(
            "the request line is not `METHOD TARGET HTTP/1.1`",
        ));
    };
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") || method.is_empty() || target.is_empty() {
        return Err(ReadError::Malformed(
            "only HTTP/1.0 and HTTP/1.1 are served",
        ));
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Malformed("a header line has no `:`"))?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(ReadError::Malformed("a header name is not a token"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    fn all<'h>(headers: &'h [(String, String)], name: &'h str) -> impl Iterator<Item = &'h str> {
        headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    let header = |name: &'static str| all(&headers, name);
    let connection: Vec<String> = header("connection")
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let keep_alive = if version == "HTTP/1.1" {
        !connection.iter().any(|c| c == "close")
    } else {
        connection.iter().any(|c| c == "keep-alive")
    };
    let chunked = match header("transfer-encoding").last() {
        None => false,
        Some(coding) if coding.to_ascii_lowercase().ends_with("chunked") => true,
        Some(_) => {
            return Err(ReadError::Malformed(
                "only chunked transfer-encoding is served",
            ));
        }
    };
    let lengths: Vec<&str> = header("content-length").collect();
    if chunked && !lengths.is_empty() {
        return Err(ReadError::Malformed(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    let length = match lengths.as_slice() {
        [] => 0,
        [first, rest @ ..] if rest.iter().all(|l| l == first) => first
            .parse::<u64>()
            .map_err(|_| ReadError::Malformed("Content-Length is not a number"))?,
        _ => return Err(ReadError::Malformed("conflicting Content-Length headers")),
    };
    if length > MAX_BODY as u64 {
        return Err(ReadError::BodyTooLarge);
    }
    let expects_continue = header("expect").any(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && version == "HTTP/1.1" && (chunked || length > 0) {
        continue_to.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        continue_to.flush()?;
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = Vec::with_capacity(length as usize);
        reader.take(length).read_to_end(&mut body)?;
        if body.len() as u64 != length {
            return Err(ReadError::Malformed(
                "the body is shorter than its Content-Length",
            ));
        }
        body
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_owned(), query.to_owned()),
        None => (target.to_owned(), String::new()),
    };
    Ok(Incoming {
        request: Request {
            method: method.to_ascii_uppercase(),
            path,
            query,
            headers,
            body,
        },
        keep_alive,
    })
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A chunked body, at most `MAX_BODY` bytes of data; chunk extensions and trailers are
/// read and dropped (bounded too).
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = bounded_line(reader)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| ReadError::Malformed("a chunk size is not hexadecimal"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !bounded_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::BodyTooLarge);
        }
        let start = body.len();
        reader.take(size as u64).read_to_end(&mut body)?;
        if body.len() - start != size {
            return Err(ReadError::Malformed("a chunk is shorter than its size"));
        }
        if !bounded_line(reader)?.is_empty() {
            return Err(ReadError::Malformed("a chunk does not end with CRLF"));
        }
    }
}

/// One line of a chunked body's framing, at most 1 KiB.
fn bounded_line(reader: &mut impl BufRead) -> Result<String, ReadError> {
    let mut line = Vec::new();
    reader.take(1024).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Err(ReadError::Malformed(
            "chunk framing is too long or cut short",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| ReadError::Malformed("chunk framing is not UTF-8"))
}

/// Writes `response`; for HEAD the body is left out, its length kept.
pub fn write_response(
    out: &mut impl Write,
    response: &Response,
    keep_alive: bool,
    head_only: bool,
    keep_alive_seconds: u64,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        // A header value never ends the head early.
        if !value.contains(['\r', '\n']) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Date: {}\r\nContent-Length: {}\r\n",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        response.body.len()
    ));
    if keep_alive {
        head.push_str(&format!(
            "Connection: keep-alive\r\nKeep-Alive: timeout={keep_alive_seconds}\r\n\r\n"
        ));
    } else {
        head.push_str("Connection: close\r\n\r\n");
    }
    out.write_all(head.as_bytes())?;
    if !head_only {
        out.write_all(&response.body)?;
    }
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8], max_head: usize) -> Result<Incoming, ReadError> {
        let mut reader = io::BufReader::with_capacity(7, raw);
        let head = read_head(&mut reader, max_head)?.ok_or(ReadError::Closed)?;
        read_request(&mut reader, &mut io::sink(), head)
    }

    #[test]
    fn reads_requests_with_bodies_and_keep_alive() {
        let raw = b"\r\nPOST /v2/remove-background?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let incoming = parse(raw, 1024).unwrap();
        assert_eq!(incoming.request.method, "POST");
        assert_eq!(incoming.request.path, "/v2/remove-background");
        assert_eq!(incoming.request.query, "x=1");
        assert_eq!(
            incoming.request.header("content-type"),
            Some("application/json")
        );
        assert_eq!(incoming.request.body, b"{}");
        assert!(incoming.keep_alive);
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n1;x=y\r\nc\r\n0\r\nT: v\r\n\r\n";
        let incoming = parse(raw, 1024).unwrap();
        assert_eq!(incoming.request.body, b"abc");
        assert!(!incoming.keep_alive);
    }

    #[test]
    fn refuses_what_is_too_large_or_malformed() {
        let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(5000));
        assert!(matches!(
            parse(big.as_bytes(), 4096),
            Err(ReadError::HeadTooLarge)
        ));
        // A head with no line break at all is bounded too.
        let endless = vec![b'a'; 10_000];
        assert!(matches!(
            parse(&endless, 4096),
            Err(ReadError::HeadTooLarge)
        ));
        let huge_length = b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n";
        assert!(matches!(
            parse(huge_length, 1024),
            Err(ReadError::BodyTooLarge)
        ));
        let huge_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n";
        assert!(matches!(
            parse(huge_chunk, 1024),
            Err(ReadError::BodyTooLarge)
        ));
        for bad in [
            &b"GET /\r\n\r\n"[..],
            b"GET / HTTP/2\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nbad name: v\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
        ] {
            assert!(
                matches!(parse(bad, 1024), Err(ReadError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(parse(b"", 1024), Err(ReadError::Closed)));
    }

    #[test]
    fn writes_a_response_that_cannot_be_split() {
        let response = Response::json(431, &serde_json::json!({"a": 1}))
            .with_header("X-Evil", "a\r\nSet-Cookie: x".to_owned());
        let mut out = Vec::new();
        write_response(&mut out, &response, false, false, 20).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(!text.contains("Set-Cookie"));
        assert!(text.contains("Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}"));
    }
}
