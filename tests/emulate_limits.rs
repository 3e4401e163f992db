//! `maskflow emulate` under hostile clients: a huge request head gets 431 and a connection
//! over the cap gets 503, while the emulator goes on serving everyone else.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::emulator::Emulator;

fn address(emulator: &Emulator) -> String {
    emulator.base_url.trim_start_matches("http://").to_owned()
}

/// The status code of the HTTP response read from `stream`.
fn status_of(stream: &mut TcpStream) -> u16 {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"))
}

fn stats_status(emulator: &Emulator) -> u16 {
    let mut stream = TcpStream::connect(address(emulator)).unwrap();
    stream
        .write_all(b"GET /_emulator/stats HTTP/1.1\r\nHost: e\r\nConnection: close\r\n\r\n")
        .unwrap();
    status_of(&mut stream)
}

#[test]
fn a_huge_request_head_gets_431() {
    let emulator = Emulator::start(&["--max-header-bytes", "4096"]);
    let mut stream = TcpStream::connect(address(&emulator)).unwrap();
    let mut head = b"GET /_emulator/stats HTTP/1.1\r\nHost: e\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    head.extend_from_slice(b"\r\n\r\n");
    // The emulator answers after 4 KiB; the rest is sent meanwhile.
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&head);
    });
    assert_eq!(status_of(&mut stream), 431);
    sender.join().unwrap();
    // A header line with no end at all is cut off the same way.
    let mut stream = TcpStream::connect(address(&emulator)).unwrap();
    let _ = stream.write_all(&[b'a'; 8192]);
    assert_eq!(status_of(&mut stream), 431);
    assert_eq!(stats_status(&emulator), 200);
}

#[test]
fn connections_over_the_cap_get_503_until_one_frees() {
    let emulator = Emulator::start(&["--max-connections", "4"]);
    // Slowloris: connections that start a request head and never finish it.
    let slow: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = TcpStream::connect(address(&emulator)).unwrap();
            stream
                .write_all(b"GET /_emulator/stats HTTP/1.1\r\nX-Slow: ")
                .unwrap();
            stream
        })
        .collect();
    let mut over = TcpStream::connect(address(&emulator)).unwrap();
    assert_eq!(status_of(&mut over), 503);
    drop(slow);
    // The slots free once the emulator sees the closes; then requests are served again.
    let served = (0..200).any(|_| {
        let status = stats_status(&emulator);
        if status != 200 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        status == 200
    });
    assert!(
        served,
        "the emulator never served again after the slow clients left"
    );
}
