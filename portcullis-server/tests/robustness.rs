//! The server's HTTP limits (SECURITY.md HTTP-01, HTTP-06): oversized request heads are
//! refused with 431, and a client that trickles its request head (slowloris) is cut off by
//! the header-read timeout while the server keeps answering others.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn raw(port: u16, request: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = vec![0; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn http_01_oversized_heads_are_refused() {
    let dir = temp_dir("limits");
    let server = Server::start(&dir, &[]);
    let mut big = b"GET /api/auth/session HTTP/1.1\r\nHost: x\r\nCookie: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 500_000));
    big.extend_from_slice(b"\r\n\r\n");
    assert!(raw(server.port, &big).starts_with("HTTP/1.1 431"));
    let mut many = b"GET /api/auth/session HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(raw(server.port, &many).starts_with("HTTP/1.1 431"));
    // Still serving.
    assert_eq!(get(server.port, "/healthz", &Jar::default()).status, 200);
}

#[test]
fn http_06_a_trickled_request_head_is_cut_off() {
    let dir = temp_dir("slowloris");
    let server = Server::start(&dir, &[]);
    let mut slow = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Meanwhile the server answers everyone else.
    assert_eq!(get(server.port, "/healthz", &Jar::default()).status, 200);
    let mut buf = [0u8; 64];
    let n = slow.read(&mut buf).unwrap_or(0);
    let waited = started.elapsed();
    assert_eq!(
        n, 0,
        "the unfinished request gets no response, only a closed connection"
    );
    assert!(
        waited < Duration::from_secs(25),
        "the connection must be closed by the header-read timeout, not held open: {waited:?}"
    );
}
