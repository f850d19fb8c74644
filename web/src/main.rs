//! Mounts the app.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(cedargate_web::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("cedargate-web runs in the browser: build it with `cargo xtask build-web`");
}
