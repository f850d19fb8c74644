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
//! - **Order.** Every session carries its [`Generation`](crate::tabs::Generation) (the sign-in it comes from and how
//!   many renewals followed). A tab takes another tab's session only when it is newer than
//!   the one it holds, whatever order the messages arrive in, and checks again when the
//!   session has been verified; an older one (a stale tab's) is answered with the newer. A
//!   tab that has heard of a newer session than its own does not renew: its refresh token
//!   has been rotated, and presenting it again would make the provider revoke the family.
//! - **Sign-out** in one tab signs every tab out; a renewal or an adoption in flight when it
//!   begins is not taken afterwards ([`Order`]).

use crate::app::{SetupResource, oidc, storage};
use crate::renewal::TabMessage;
use crate::session::{Session, SharedSession};
use crate::tabs::{Offered, Order, Ticket};
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
/// How long a sign-out waits for a renewal in flight, and how often it looks.
const SETTLE_WAIT: Duration = Duration::from_secs(10);
const SETTLE_STEP: Duration = Duration::from_millis(50);

async fn sleep(duration: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            i32::try_from(duration.as_millis()).unwrap_or(i32::MAX),
        );
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

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
    /// Which sessions this tab takes, renews, or leaves (see [`Order`]).
    order: StoredValue<Order>,
    /// A renewal is between its request and what becomes of its answer.
    renewing: StoredValue<bool>,
    /// A sign-out in this tab waits for a renewal in flight ([`Sessions::renewal_settled`]).
    pub sign_out_waiting: RwSignal<bool>,
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
            order: StoredValue::new(Order::new()),
            renewing: StoredValue::new(false),
            sign_out_waiting: RwSignal::new(false),
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
        self.keep(session);
    }

    /// Holds `session` (made here or adopted).
    fn keep(&self, session: Session) {
        self.order.update_value(|o| o.hold(session.generation));
        self.renewal_error.set(None);
        self.restoring.set(false);
        self.session.set(Some(Arc::new(session)));
    }

    /// A sign-out begins in this tab: from now on a renewal in flight is not taken (see
    /// [`Sessions::sign_out`], which ends it).
    pub fn begin_sign_out(&self) {
        self.order.update_value(Order::begin_sign_out);
    }

    /// Waits (at most [`SETTLE_WAIT`]) for a renewal in flight to come back. A sign-out leaves
    /// the page only then: the renewal's tokens belong to no session and are revoked
    /// ([`Sessions::renew`]), while leaving sooner would abort it with the refresh token the
    /// provider rotated still alive.
    pub async fn renewal_settled(&self) {
        let mut waited = Duration::ZERO;
        while self.renewing.get_value() && waited < SETTLE_WAIT {
            self.sign_out_waiting.set(true);
            sleep(SETTLE_STEP).await;
            waited += SETTLE_STEP;
        }
        self.sign_out_waiting.set(false);
    }

    /// Signs every tab out (the provider's session is ended by the caller).
    pub fn sign_out(&self) {
        storage::set_signed_in(false);
        post(&TabMessage::SignedOut);
        self.order.update_value(Order::signed_out);
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
                if self.order.with_value(Order::signing_out) {
                    return;
                }
                if let Some(current) = self.session.get_untracked() {
                    post(&TabMessage::Session(current.shared()));
                }
            }
            TabMessage::SignedOut => {
                self.order.update_value(Order::signed_out);
                self.session.set(None);
                self.restoring.set(false);
            }
            TabMessage::Session(shared) => {
                let offered = self
                    .order
                    .try_update_value(|o| o.offered(shared.generation));
                let ticket = match offered {
                    Some(Offered::Adopt(ticket)) => ticket,
                    Some(Offered::Same) => {
                        self.restoring.set(false);
                        return;
                    }
                    // A stale tab's older session: it gets the newer one back.
                    Some(Offered::Stale) => {
                        if let Some(current) = self.session.get_untracked() {
                            post(&TabMessage::Session(current.shared()));
                        }
                        return;
                    }
                    Some(Offered::SigningOut) | None => return,
                };
                spawn_local(async move {
                    let Ok(setup) = setup.await else { return };
                    match oidc::adopt(&setup.config, &setup.discovery, shared).await {
                        // Taken only if it is still the newest and no sign-out came
                        // meanwhile: a newer session verified sooner stays.
                        Ok(session) => {
                            if self.order.with_value(|o| o.takes(&ticket)) {
                                self.keep(session);
                            }
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
        // No renewal of a session no longer held, while a sign-out is under way, or when a
        // newer session is known (this one's refresh token has been rotated).
        let Some(ticket) = self
            .order
            .with_value(Order::renewal)
            .filter(|t| t.generation == current.generation && self.holds(&current))
        else {
            return;
        };
        self.renewing.set_value(true);
        self.renew_with(setup, current, ticket).await;
        self.renewing.set_value(false);
    }

    async fn renew_with(self, setup: SetupResource, current: Arc<Session>, ticket: Ticket) {
        let Ok(setup) = setup.await else { return };
        let renewed = oidc::refresh(&setup.config, &current).await;
        // The session may have ended (a sign-out here or in another tab), be ending (a
        // sign-out here revoking its tokens) or have been replaced while the provider
        // answered: the renewal then belongs to no session. Its tokens
        // are revoked rather than kept, so a sign-out is never undone by a renewal in
        // flight, and the rotated refresh token it brought renews nothing more.
        if !(self.holds(&current) && self.order.with_value(|o| o.takes_renewal(&ticket))) {
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

    /// Whether `session` is still the one this tab holds.
    fn holds(&self, session: &Arc<Session>) -> bool {
        self.session
            .with_untracked(|s| s.as_ref().is_some_and(|s| Arc::ptr_eq(s, session)))
    }

    /// Looks for the session after a reload or in a new tab: another tab's, or a silent
    /// sign-in when someone was signed in; otherwise the page shows the sign-in.
    fn restore(self, setup: SetupResource) {
        // Nobody signed in in this browser (the hint every tab's session sets, and sign-out
        // clears): no tab has a session to hand over, so the sign-in shows at once.
        if !storage::was_signed_in() {
            self.restoring.set(false);
            return;
        }
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
