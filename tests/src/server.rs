//! A small threaded HTTP/1.1 server for test peers: a thread per connection, one request
//! per connection (`Connection: close`), bodies by `Content-Length` or chunked, read as a
//! stream by the handler.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// One request: its head, and its body as a reader.
pub struct Request<'a> {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Box<dyn Read + 'a>,
}

impl Request<'_> {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a handler answers.
pub enum Reply {
    /// Status, headers, body.
    Answer(u16, Vec<(String, String)>, Vec<u8>),
    /// Close the connection without answering.
    Hang,
    /// Status and headers, then a chunked body (no `Content-Length`), one chunk per item,
    /// until the items end or the peer stops reading.
    Chunked(
        u16,
        Vec<(String, String)>,
        Box<dyn Iterator<Item = Vec<u8>> + Send>,
    ),
}

type Handler = Arc<dyn Fn(&mut Request<'_>) -> Reply + Send + Sync>;

/// The running server; stops accepting when dropped.
pub struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Listens on a free port of 127.0.0.1.
    pub fn start(
        handler: impl Fn(&mut Request<'_>) -> Reply + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let acceptor = {
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let handler = handler.clone();
                            thread::spawn(move || serve(stream, &handler));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Ok(Self {
            port,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, handler: &Handler) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(write) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return;
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body: Box<dyn Read + '_> =
        if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            Box::new(Chunked {
                inner: &mut reader,
                left: 0,
                done: false,
            })
        } else {
            let length = find("content-length")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            Box::new((&mut reader).take(length))
        };
    let mut request = Request {
        method,
        target,
        headers,
        body,
    };
    let reply = handler(&mut request);
    // Drain what the handler did not read.
    let _ = std::io::copy(&mut request.body, &mut std::io::sink());
    drop(request);
    if let Reply::Answer(status, headers, body) = reply {
        let mut out = write;
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        ));
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&body);
        let _ = out.flush();
    } else if let Reply::Chunked(status, headers, chunks) = reply {
        let mut out = write;
        let _ = out.set_write_timeout(Some(Duration::from_secs(10)));
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
        if out.write_all(head.as_bytes()).is_err() {
            return;
        }
        for chunk in chunks {
            let size = format!("{:x}\r\n", chunk.len());
            let framed = [size.as_bytes(), chunk.as_slice(), b"\r\n".as_slice()].concat();
            if out.write_all(&framed).is_err() {
                return;
            }
        }
        let _ = out.write_all(b"0\r\n\r\n");
        let _ = out.flush();
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

struct Chunked<'a, R: BufRead> {
    inner: &'a mut R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut size = String::new();
            self.inner.read_line(&mut size)?;
            let size = size.trim().split(';').next().unwrap_or_default().to_owned();
            self.left = u64::from_str_radix(&size, 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            if self.left == 0 {
                // Trailers, then the final empty line.
                loop {
                    let mut trailer = String::new();
                    self.inner.read_line(&mut trailer)?;
                    if trailer.trim().is_empty() {
                        break;
                    }
                }
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        if self.left == 0 {
            let mut crlf = String::new();
            self.inner.read_line(&mut crlf)?;
        }
        Ok(n)
    }
}
