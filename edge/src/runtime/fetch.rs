//! The worker's own requests to providers (discovery, JWKS, introspection): one way to send
//! them, bounded in time and size.

use futures_util::StreamExt;
use futures_util::future::{self, Either};
use std::time::Duration;
use worker::{AbortController, Delay, Fetch, Request, RequestInit, RequestRedirect, Response};

/// A provider's answer: its body and `Cache-Control`.
pub struct Fetched {
    pub body: String,
    pub cache_control: Option<String>,
}

/// Sends a request to `url` as `init` describes it and takes the answer only if it is a 200
/// within `timeout` whose body is UTF-8 of at most `max` bytes. Redirects are not followed
/// (a 3xx is a failure); a `Content-Length` over `max` is refused before the body is read,
/// and the body is read chunk by chunk and given up as soon as it passes `max`, whatever
/// `Content-Length` says or when there is none. On any failure the transfer is aborted.
/// Errors name the URL and what went wrong, never what was sent.
pub async fn fetch_capped(
    url: &str,
    mut init: RequestInit,
    timeout: Duration,
    max: usize,
) -> Result<Fetched, String> {
    init.with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(url, &init).map_err(|_| format!("{url}: invalid URL"))?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = async move {
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if response.status_code() != 200 {
            return Err(format!("{url}: status {}", response.status_code()));
        }
        let header = |name: &str| response.headers().get(name).ok().flatten();
        let declared = header("content-length").and_then(|l| l.parse::<usize>().ok());
        if declared.is_some_and(|l| l > max) {
            return Err(format!("{url}: document too large"));
        }
        let cache_control = header("cache-control");
        let body = read_capped(&mut response, max, url).await?;
        Ok(Fetched {
            body,
            cache_control,
        })
    };
    let result = match future::select(Box::pin(work), Delay::from(timeout)).await {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => Err(format!("{url}: timed out after {} ms", timeout.as_millis())),
    };
    if result.is_err() {
        // Stops the transfer of a body given up on (or of a request that timed out).
        controller.abort();
    }
    result
}

/// A response's body as UTF-8 text, read chunk by chunk and given up as soon as it passes
/// `max` bytes (`<url>: document too large`), whatever `Content-Length` says.
async fn read_capped(response: &mut Response, max: usize, url: &str) -> Result<String, String> {
    let mut stream = response.stream().map_err(|e| format!("{url}: {e}"))?;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("{url}: {e}"))?;
        if body.len() + chunk.len() > max {
            return Err(format!("{url}: document too large"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| format!("{url}: not UTF-8"))
}
