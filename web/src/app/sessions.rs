//! One session for all of the app's tabs, kept alive while any of them is open; tokens stay
//! in memory.
//!
//! - **Renewal.** One tab, the one holding the Web Lock [`LEADER_LOCK`], renews the session
//!   with its refresh token before the first token expires and hands the new tokens to the
//!   others over a BroadcastChannel. The others never renew, so tabs cannot race each other
//!   with a rotated refresh token; when the renewing tab closes, the lock passes to another.
//! - **Tabs and reloads.** A tab that starts without a session asks the others for theirs
//!   and verifies what it gets. When none answers and someone was signed in, it restores the
//!   session with a silent sign-in (`prompt=none`), which comes back signed out without
//!   showing a page when the provider's session is over.
//! - **Sign-out** in one tab signs every tab out.

use crate::app::{SetupResource, oidc, storage};
use crate::renewal::TabMessage;
use crate::session::{Session, SharedSession};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;

/// The BroadcastChannel the tabs talk on.
pub const CHANNEL: &str = "cedargate.session";
/// The Web Lock held by the tab that renews the session.
pub const LEADER_LOCK: &str = "cedargate.session-renewal";
/// How long a starting tab waits for another tab's session before it signs in silently.
const ANSWER_WAIT: Duration = Duration::from_millis(300);

thread_local! {
    static CHANNEL_HANDLE: RefCell<Option<web_sys::BroadcastChannel>> = const { RefCell::new(None) };
}

/// The session and what the page shows about keeping it.
#[derive(Clone, Copy, Debug)]
pub struct Sessions {
    pub session: RwSignal<SharedSession>,
    /// A starting tab is looking for its session (another tab's, or a silent sign-in).
    pub restoring: RwSignal<bool>,
    /// Why the last renewal failed; the session then ends when its tokens expire.
    pub renewal_error: RwSignal<Option<String>>,
    /// Whether this tab is the one that renews.
    pub leader: RwSignal<bool>,
    /// A sign-out in this tab has begun (its tokens are being revoked): a renewal that
    /// comes back meanwhile is not taken.
    signing_out: RwSignal<bool>,
}

fn post(message: &TabMessage) {
    CHANNEL_HANDLE.with(|c| {
        if let Some(channel) = c.borrow().as_ref() {
            let _ = channel.post_message(&JsValue::from_str(&message.to_text()));
        }
    });
}

impl Sessions {
    /// Opens the channel, asks for the renewal lock, schedules renewals and, unless this
    /// page is the sign-in callback, looks for the session.
    pub fn start(setup: SetupResource, callback: bool) -> Self {
        let sessions = Self {
            session: RwSignal::new(None),
            restoring: RwSignal::new(!callback),
            renewal_error: RwSignal::new(None),
            leader: RwSignal::new(false),
            signing_out: RwSignal::new(false),
        };
        sessions.open_channel(setup);
        sessions.request_leadership();
        sessions.schedule_renewals(setup);
        if !callback {
            sessions.restore(setup);
        }
        sessions
    }

    /// A new session (a sign-in in this tab, or a renewal): kept, noted as signed in, and
    /// handed to the other tabs.
    pub fn set(&self, session: Session) {
        storage::set_signed_in(true);
        post(&TabMessage::Session(session.shared()));
        self.renewal_error.set(None);
        self.restoring.set(false);
        self.signing_out.set(false);
        self.session.set(Some(Arc::new(session)));
    }

    /// A sign-out begins in this tab: from now on a renewal in flight is not taken (see
    /// [`Sessions::sign_out`], which ends it).
    pub fn begin_sign_out(&self) {
        self.signing_out.set(true);
    }

    /// Signs every tab out (the provider's session is ended by the caller).
    pub fn sign_out(&self) {
        storage::set_signed_in(false);
        post(&TabMessage::SignedOut);
        self.session.set(None);
    }

    /// A silent sign-in found the provider's session over.
    pub fn ended(&self) {
        storage::set_signed_in(false);
        self.restoring.set(false);
    }

    fn open_channel(self, setup: SetupResource) {
        let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) else {
            return;
        };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let Some(message) = event.data().as_string().and_then(|t| TabMessage::parse(&t))
                else {
                    return;
                };
                self.receive(setup, message);
            },
        );
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // The handler lives as long as the page.
        on_message.forget();
        CHANNEL_HANDLE.with(|c| *c.borrow_mut() = Some(channel));
    }

    fn receive(self, setup: SetupResource, message: TabMessage) {
        match message {
            TabMessage::Hello => {
                if let Some(current) = self.session.get_untracked() {
                    post(&TabMessage::Session(current.shared()));
                }
            }
            TabMessage::SignedOut => {
                self.session.set(None);
                self.restoring.set(false);
            }
            TabMessage::Session(shared) => {
                let same = self
                    .session
                    .with_untracked(|s| s.as_ref().is_some_and(|s| s.shared() == shared));
                if same {
                    self.restoring.set(false);
                    return;
                }
                spawn_local(async move {
                    let Ok(setup) = setup.await else { return };
                    match oidc::adopt(&setup.config, &setup.discovery, shared).await {
                        Ok(session) => {
                            self.renewal_error.set(None);
                            self.session.set(Some(Arc::new(session)));
                            self.restoring.set(false);
                        }
                        // Tokens that do not verify here are not taken over; the tab keeps
                        // what it has.
                        Err(err) => self.renewal_error.set(Some(format!(
                            "another tab's session was not taken over: {err}"
                        ))),
                    }
                });
            }
        }
    }

    /// Asks for [`LEADER_LOCK`] and holds it until the page goes away. Without Web Locks,
    /// every tab renews its own session.
    fn request_leadership(self) {
        let leader = self.leader;
        let locks = js_sys::Reflect::get(&window().navigator(), &JsValue::from_str("locks"))
            .ok()
            .filter(|l| !l.is_undefined() && !l.is_null());
        let request = locks.as_ref().and_then(|locks| {
            js_sys::Reflect::get(locks, &JsValue::from_str("request"))
                .ok()?
                .dyn_into::<js_sys::Function>()
                .ok()
        });
        let (Some(locks), Some(request)) = (locks, request) else {
            leader.set(true);
            return;
        };
        let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            leader.set(true);
            // A promise that never settles: the lock is held while the page lives.
            js_sys::Promise::new(&mut |_resolve, _reject| {}).into()
        });
        if request
            .call2(&locks, &JsValue::from_str(LEADER_LOCK), &granted)
            .is_err()
        {
            leader.set(true);
        }
    }

    /// Renews the session shortly before its first token expires, in the leading tab.
    fn schedule_renewals(self, setup: SetupResource) {
        let timer = StoredValue::new(None::<TimeoutHandle>);
        Effect::new(move |_| {
            if let Some(handle) = timer.get_value() {
                handle.clear();
                timer.set_value(None);
            }
            let (Some(current), true) = (self.session.get(), self.leader.get()) else {
                return;
            };
            let Some(due) = current.renewal_time() else {
                return;
            };
            let delay = (due as f64 * 1000.0 - oidc::now_ms()).max(0.0);
            let handle = set_timeout_with_handle(
                move || spawn_local(self.renew(setup, current)),
                Duration::from_millis(delay as u64),
            );
            timer.set_value(handle.ok());
        });
    }

    async fn renew(self, setup: SetupResource, current: Arc<Session>) {
        if !self.holds(&current) {
            return;
        }
        let Ok(setup) = setup.await else { return };
        let renewed = oidc::refresh(&setup.config, &current).await;
        // The session may have ended (a sign-out here or in another tab), be ending (a
        // sign-out here revoking its tokens) or have been replaced while the provider
        // answered: the renewal then belongs to no session. Its tokens
        // are revoked rather than kept, so a sign-out is never undone by a renewal in
        // flight, and the rotated refresh token it brought renews nothing more.
        if !self.holds(&current) {
            if let Ok(orphan) = renewed {
                oidc::revoke_tokens(&setup.config, &orphan).await;
            }
            return;
        }
        match renewed {
            Ok(renewed) => self.set(renewed),
            Err(err) => self.renewal_error.set(Some(err.to_string())),
        }
    }

    /// Whether `session` is still the one this tab holds, and no sign-out has begun.
    fn holds(&self, session: &Arc<Session>) -> bool {
        !self.signing_out.get_untracked()
            && self
                .session
                .with_untracked(|s| s.as_ref().is_some_and(|s| Arc::ptr_eq(s, session)))
    }

    /// Looks for the session after a reload or in a new tab: another tab's, or a silent
    /// sign-in when someone was signed in; otherwise the page shows the sign-in.
    fn restore(self, setup: SetupResource) {
        post(&TabMessage::Hello);
        let waited = set_timeout_with_handle(
            move || {
                if self.session.with_untracked(Option::is_some) || !self.restoring.get_untracked() {
                    return;
                }
                if !storage::was_signed_in() {
                    self.restoring.set(false);
                    return;
                }
                spawn_local(async move {
                    let started = match setup.await {
                        Ok(setup) => {
                            oidc::go_to_silent_sign_in(&setup.config, &setup.discovery).is_ok()
                        }
                        Err(_) => false,
                    };
                    if !started {
                        self.restoring.set(false);
                    }
                });
            },
            ANSWER_WAIT,
        );
        if waited.is_err() {
            self.restoring.set(false);
        }
    }
}
