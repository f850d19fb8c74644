//! Which session a tab holds when several tabs share one: the order sessions come in, and
//! whether a renewal's or another tab's tokens may still be taken. Pure; the browser half is
//! `app::sessions`.

use serde::{Deserialize, Serialize};

/// Where a session stands in the order of sessions: the sign-in it comes from (when this
/// browser finished it, milliseconds by the browser's clock, which all tabs share) and how
/// many renewals followed. A renewal rotates the refresh token, so of two sessions of a
/// sign-in only the one with more renewals holds a refresh token the provider still takes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Generation {
    pub signed_in_at: i64,
    pub renewals: u64,
}

impl Generation {
    /// A sign-in's session.
    pub fn first(signed_in_at: i64) -> Self {
        Self {
            signed_in_at,
            renewals: 0,
        }
    }

    /// The session a renewal of this one brings.
    pub fn next(self) -> Self {
        Self {
            renewals: self.renewals.saturating_add(1),
            ..self
        }
    }
}

/// What a tab does with another tab's session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offered {
    /// It is newer than anything held: verify it, then take it if [`Order::takes`] still
    /// says so.
    Adopt(Ticket),
    /// It is the one held.
    Same,
    /// It is older than the one held (a stale tab's): not taken; the tab answers with its
    /// own so the stale tab catches up.
    Stale,
    /// A sign-out is under way in this tab: nothing is taken.
    SigningOut,
}

/// What a renewal or an adoption started from; it is taken when it returns only if the tab
/// has not moved on meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The session the renewal renews, or the one offered for adoption.
    pub generation: Generation,
    /// The sign-outs seen when it started.
    sign_outs: u64,
}

/// The tab's state: the session it holds (by its [`Generation`]), the newest it has heard
/// of, and sign-outs.
#[derive(Clone, Debug, Default)]
pub struct Order {
    held: Option<Generation>,
    newest: Option<Generation>,
    signing_out: bool,
    sign_outs: u64,
}

impl Order {
    pub fn new() -> Self {
        Self::default()
    }

    /// The generation of the session held.
    pub fn held(&self) -> Option<Generation> {
        self.held
    }

    /// Whether a sign-out in this tab has begun and not ended.
    pub fn signing_out(&self) -> bool {
        self.signing_out
    }

    /// A session made in this tab (a sign-in, or a renewal [`Order::takes_renewal`]
    /// accepted) or adopted ([`Order::takes`]) is now held.
    pub fn hold(&mut self, generation: Generation) {
        self.held = Some(generation);
        self.newest = self.newest.max(Some(generation));
        self.signing_out = false;
    }

    /// Another tab's session arrives.
    pub fn offered(&mut self, generation: Generation) -> Offered {
        if self.signing_out {
            return Offered::SigningOut;
        }
        match self.held {
            Some(held) if generation == held => Offered::Same,
            Some(held) if generation < held => Offered::Stale,
            _ => {
                self.newest = self.newest.max(Some(generation));
                Offered::Adopt(Ticket {
                    generation,
                    sign_outs: self.sign_outs,
                })
            }
        }
    }

    /// Whether an adopted session, now verified, is taken: no sign-out since it arrived,
    /// none under way, and still newer than the one held (another, newer one may have
    /// been taken meanwhile).
    pub fn takes(&self, ticket: &Ticket) -> bool {
        !self.signing_out
            && self.sign_outs == ticket.sign_outs
            && self.held.is_none_or(|held| ticket.generation > held)
    }

    /// A renewal of the session held is about to present its refresh token: `None` when
    /// there is none, a sign-out is under way, or a newer session than the one held is
    /// known (its refresh token has then been rotated, and presenting it again would make
    /// the provider revoke the whole family).
    pub fn renewal(&self) -> Option<Ticket> {
        let held = self.held?;
        if self.signing_out || self.newest.is_some_and(|newest| newest > held) {
            return None;
        }
        Some(Ticket {
            generation: held,
            sign_outs: self.sign_outs,
        })
    }

    /// Whether a renewal that returned is taken: the session it renewed is still the one
    /// held, and no sign-out began or happened meanwhile. Otherwise its tokens belong to no
    /// session and are revoked.
    pub fn takes_renewal(&self, ticket: &Ticket) -> bool {
        !self.signing_out
            && self.sign_outs == ticket.sign_outs
            && self.held == Some(ticket.generation)
            && self.newest.is_none_or(|newest| newest <= ticket.generation)
    }

    /// A sign-out begins in this tab (its tokens are being revoked).
    pub fn begin_sign_out(&mut self) {
        self.signing_out = true;
    }

    /// The session ended: a sign-out here or in another tab.
    pub fn signed_out(&mut self) {
        self.held = None;
        self.newest = None;
        self.signing_out = false;
        self.sign_outs = self.sign_outs.wrapping_add(1);
    }
}
