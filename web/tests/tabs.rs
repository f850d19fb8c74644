//! The order of sessions shared between tabs, and sign-outs racing renewals and adoptions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_web::tabs::{Generation, Offered, Order};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn signed_in(at: i64) -> Order {
    let mut order = Order::new();
    order.hold(Generation::first(at));
    order
}

fn ticket(offered: Offered) -> cedargate_web::tabs::Ticket {
    match offered {
        Offered::Adopt(ticket) => ticket,
        other => panic!("expected Adopt, got {other:?}"),
    }
}

#[test]
fn generations_order_by_sign_in_then_renewals() {
    let first = Generation::first(1_000);
    assert!(first.next() > first);
    assert!(first.next().next() > first.next());
    // A later sign-in (a step-up, another person) is newer than any renewal of an earlier.
    let mut renewed = first;
    for _ in 0..50 {
        renewed = renewed.next();
    }
    assert!(Generation::first(1_001) > renewed);
}

#[test]
fn a_stale_tabs_older_session_is_never_adopted() {
    // This tab holds the session after two renewals; a stale tab still holds the first.
    let start = Generation::first(1_000);
    let mut order = signed_in(1_000);
    let t = ticket(order.offered(start.next()));
    assert!(order.takes(&t));
    order.hold(start.next());
    order.hold(start.next().next());
    assert_eq!(order.offered(start), Offered::Stale);
    assert_eq!(order.offered(start.next()), Offered::Stale);
    assert_eq!(order.offered(start.next().next()), Offered::Same);
    assert_eq!(order.held(), Some(start.next().next()));
}

#[test]
fn messages_arriving_out_of_order_leave_the_newest() {
    let start = Generation::first(1_000);
    let (one, two) = (start.next(), start.next().next());
    // Renewal 2's session arrives first and is taken; renewal 1's arrives after it.
    let mut order = signed_in(1_000);
    let newer = ticket(order.offered(two));
    assert!(order.takes(&newer));
    order.hold(two);
    assert_eq!(order.offered(one), Offered::Stale);
    assert_eq!(order.held(), Some(two));

    // Both arrive before either is verified, and the older one's verification ends last.
    let mut order = signed_in(1_000);
    let newer = ticket(order.offered(two));
    let older = ticket(order.offered(one));
    assert!(order.takes(&newer));
    order.hold(two);
    assert!(
        !order.takes(&older),
        "an older session verified late replaced a newer one"
    );
    assert_eq!(order.held(), Some(two));
}

#[test]
fn a_tab_that_knows_of_a_newer_session_does_not_present_its_rotated_refresh_token() {
    let start = Generation::first(1_000);
    let mut order = signed_in(1_000);
    assert!(order.renewal().is_some());
    // Another tab renewed: its session is being verified here. The refresh token this tab
    // holds has been rotated; renewing with it would make the provider revoke the family.
    let adoption = ticket(order.offered(start.next()));
    assert_eq!(order.renewal(), None);
    assert!(order.takes(&adoption));
    order.hold(start.next());
    assert_eq!(order.renewal().map(|t| t.generation), Some(start.next()));
}

#[test]
fn a_renewal_that_returns_after_a_newer_session_was_adopted_is_not_taken() {
    let start = Generation::first(1_000);
    let mut order = signed_in(1_000);
    let renewal = order.renewal().unwrap();
    let adoption = ticket(order.offered(start.next()));
    assert!(order.takes(&adoption));
    order.hold(start.next());
    assert!(!order.takes_renewal(&renewal));
}

#[test]
fn a_sign_out_in_this_tab_wins_over_its_own_renewal_in_flight() {
    // The renewal returns while the sign-out revokes the tokens...
    let mut order = signed_in(1_000);
    let renewal = order.renewal().unwrap();
    order.begin_sign_out();
    assert!(!order.takes_renewal(&renewal));
    assert_eq!(order.renewal(), None);
    // ...or after the sign-out ended.
    order.signed_out();
    assert!(!order.takes_renewal(&renewal));
    assert_eq!(order.held(), None);
    assert_eq!(order.renewal(), None);
}

#[test]
fn a_sign_out_in_this_tab_wins_over_an_adoption_in_flight() {
    let start = Generation::first(1_000);
    let mut order = signed_in(1_000);
    let adoption = ticket(order.offered(start.next()));
    order.begin_sign_out();
    assert!(!order.takes(&adoption));
    assert_eq!(order.offered(start.next().next()), Offered::SigningOut);
    order.signed_out();
    assert!(!order.takes(&adoption));
}

#[test]
fn a_sign_out_in_another_tab_wins_over_an_adoption_in_flight() {
    let start = Generation::first(1_000);
    let mut order = signed_in(1_000);
    let adoption = ticket(order.offered(start.next()));
    order.signed_out();
    assert!(
        !order.takes(&adoption),
        "a sign-out was undone by an adoption"
    );
    assert_eq!(order.held(), None);
}

#[test]
fn a_tab_that_signed_out_renews_the_next_session_it_adopts() {
    // Signed out here; later someone signs in in another tab and this tab adopts it.
    let mut order = signed_in(1_000);
    order.begin_sign_out();
    order.signed_out();
    let later = Generation::first(5_000);
    let adoption = ticket(order.offered(later));
    assert!(order.takes(&adoption));
    order.hold(later);
    assert_eq!(order.renewal().map(|t| t.generation), Some(later));
}

#[test]
fn a_sign_out_that_began_then_another_tab_signed_in_is_ended_by_the_sign_out() {
    // A sign-out under way refuses a new session arriving; it ends signed out.
    let mut order = signed_in(1_000);
    order.begin_sign_out();
    assert_eq!(order.offered(Generation::first(2_000)), Offered::SigningOut);
    order.signed_out();
    assert!(!order.signing_out());
    assert_eq!(order.held(), None);
}
