//! The configurations `wrangler.toml` deploys: the local demo's (top level) and the shape of
//! a real PingOne deployment (`[env.production]`), each checked as the worker checks its
//! `CEDARGATE_CONFIG` at start, and against the bundle compiled into the worker. A broken
//! deploy configuration is red here, before `wrangler deploy` ships it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cedargate_edge::config::EdgeConfig;

fn wrangler_toml() -> toml::Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../wrangler.toml");
    let text = std::fs::read_to_string(path).unwrap();
    text.parse().unwrap()
}

/// `CEDARGATE_CONFIG` of `vars`, as the JSON the worker reads.
fn config_of(vars: &toml::Value) -> EdgeConfig {
    let config = vars.get("CEDARGATE_CONFIG").expect("vars.CEDARGATE_CONFIG");
    let json = serde_json::to_string(config).unwrap();
    match EdgeConfig::from_json(&json) {
        Ok(config) => config,
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn the_local_configuration_is_one_the_worker_accepts() {
    let toml = wrangler_toml();
    let config = config_of(&toml["vars"]);
    let bundle = cedargate::examples::petstore().unwrap();
    config.check_bundle(&bundle).unwrap();
    assert_eq!(toml["main"].as_str(), Some("edge/build/index.js"));
}

#[test]
fn the_production_configuration_is_one_the_worker_accepts() {
    let toml = wrangler_toml();
    let production = &toml["env"]["production"];
    let config = config_of(&production["vars"]);
    let bundle = cedargate::examples::petstore().unwrap();
    config.check_bundle(&bundle).unwrap();
    // A real deployment: https issuers only, no bundle endpoint by default.
    assert!(
        config
            .trust
            .issuers
            .iter()
            .all(|i| i.issuer.starts_with("https://"))
    );
    assert!(!config.bundle_endpoint);
    // Every KV binding the configuration names is declared for the environment.
    let bound: Vec<&str> = production
        .get("kv_namespaces")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("binding")?.as_str())
        .collect();
    let named = config
        .bundle_kv
        .iter()
        .map(|kv| kv.binding.as_str())
        .chain(config.deny_list.iter().map(|d| d.binding.as_str()));
    for binding in named {
        assert!(bound.contains(&binding), "{binding} is not bound");
    }
}
