//! Writing the log: the request line, events, request ids and timing.

use super::now_ms;
use crate::log_line::{RequestRecord, event_line};
use serde_json::Value;
use std::cell::Cell;
use wasm_bindgen::JsCast;

thread_local! {
    /// `performance.now`, looked up once.
    static PERFORMANCE_NOW: Option<(js_sys::Function, wasm_bindgen::JsValue)> = {
        let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).ok();
        performance.and_then(|p| {
            let now = js_sys::Reflect::get(&p, &"now".into()).ok()?;
            Some((now.dyn_into().ok()?, p))
        })
    };
    /// A random prefix for this isolate's request ids, and a counter.
    static REQUEST_IDS: (String, Cell<u64>) = {
        let mut bytes = [0u8; 6];
        let prefix = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
            .ok()
            .and_then(|c| {
                c.unchecked_into::<web_sys::Crypto>()
                    .get_random_values_with_u8_array(&mut bytes)
                    .ok()
            })
            .map(|_| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .unwrap_or_default();
        (prefix, Cell::new(0))
    };
}

fn performance_now() -> f64 {
    PERFORMANCE_NOW
        .with(|p| {
            p.as_ref()
                .and_then(|(now, this)| now.call0(this).ok()?.as_f64())
        })
        .unwrap_or_else(now_ms)
}

/// `<isolate prefix>-<counter>`: unique per isolate without a random draw per request.
pub fn request_id() -> String {
    REQUEST_IDS.with(|(prefix, counter)| {
        let n = counter.get() + 1;
        counter.set(n);
        format!("{prefix}-{n:x}")
    })
}

/// When a request started, by `performance.now` (or the clock where there is none).
pub struct Stopwatch(f64);

impl Stopwatch {
    /// Starts timing.
    pub fn start() -> Self {
        Self(performance_now())
    }

    /// Microseconds since the start.
    fn micros(&self) -> i64 {
        ((performance_now() - self.0) * 1000.0).round() as i64
    }
}

/// Writes the request's line: the record, with the request's id, method, target, status and
/// time taken.
pub fn request(
    record: &RequestRecord,
    id: &str,
    method: &str,
    target: &str,
    status: u16,
    timer: &Stopwatch,
) {
    write(&record.line(id, method, target, status, timer.micros()));
}

/// Writes an event's line: `{"event": name, ...fields}`.
pub fn event(name: &str, fields: Value) {
    write(&event_line(name, fields).to_string());
}

/// One line to the log, as written (`console.log` of the text, without formatting it again).
fn write(line: &str) {
    worker::web_sys::console::log_1(&line.into());
}
