//! A token decoded: header and claims as tables, times in words with a live countdown, the
//! verification result, and the raw token to copy.

use crate::session::Token;
use leptos::prelude::*;
use serde_json::{Map, Value};

const TIME_CLAIMS: [&str; 4] = ["exp", "iat", "nbf", "auth_time"];

fn human_time(seconds: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(seconds * 1000.0));
    String::from(date.to_utc_string())
}

fn countdown(exp: f64, now: f64) -> String {
    let left = (exp - now).round() as i64;
    let span = |s: i64| format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60);
    if left >= 0 {
        format!("expires in {}", span(left))
    } else {
        format!("expired {} ago", span(-left))
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[component]
fn ClaimsTable(entries: Map<String, Value>, caption: &'static str) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="claims">
                <caption>{caption}</caption>
                <tbody>
                    {entries
                        .into_iter()
                        .map(|(name, value)| {
                            let when = if TIME_CLAIMS.contains(&name.as_str()) {
                                value.as_f64().map(human_time)
                            } else {
                                None
                            };
                            view! {
                                <tr data-claim=name.clone()>
                                    <th scope="row">{name.clone()}</th>
                                    <td>
                                        <code>{render(&value)}</code>
                                        {when.map(|w| view! { <span class="when">{w}</span> })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
pub fn TokenPanel(
    title: &'static str,
    token: Token,
    now: ReadSignal<f64>,
    testid: &'static str,
) -> impl IntoView {
    let exp = token.claims.get("exp").and_then(Value::as_f64);
    let status = match &token.verified {
        Ok(_) => view! { <span class="badge ok">"verified"</span> }.into_any(),
        Err(reason) => {
            view! { <span class="badge warn" title=reason.clone()>"not verified"</span> }.into_any()
        }
    };
    let reason = token.verified.as_ref().err().cloned();
    let raw = token.raw.expose().to_owned();
    let (copied, set_copied) = signal(false);
    let copy = {
        let raw = raw.clone();
        move |_| {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&raw);
            set_copied.set(true);
        }
    };
    view! {
        <section class="card token" data-testid=testid>
            <header class="token-head">
                <h2>{title}</h2>
                {status}
                {exp.map(|exp| {
                    view! {
                        <span class="countdown" data-testid=format!("{testid}-countdown")>
                            {move || countdown(exp, now.get())}
                        </span>
                    }
                })}
            </header>
            {reason.map(|r| view! { <p class="muted">{r}</p> })}
            <div class="columns">
                <ClaimsTable entries=token.header.clone() caption="Header"/>
                <ClaimsTable entries=token.claims.clone() caption="Claims"/>
            </div>
            <details>
                <summary>"Raw token"</summary>
                <textarea readonly rows="5" class="raw" data-testid=format!("{testid}-raw")>
                    {raw}
                </textarea>
                <button class="button small" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </details>
        </section>
    }
}
