//! The request case table (`shared/tests/data/request_cases.toml`): raw methods, paths and
//! headers with what the shared core decides and what the worker answers, for the shared
//! core's tests and the worker's tests in workerd.

use serde::Deserialize;

/// The table: the file's `[[case]]` entries, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The cases.
    pub case: Vec<Case>,
}

/// One request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique in the table.
    pub name: String,
    /// `admin` (group AVP_Admin) or `user` (AVP_User).
    pub user: String,
    /// The method, exactly as sent.
    pub method: String,
    /// May contain `<repeat:c:n>` (see [`expand`]).
    pub path: String,
    /// Headers sent besides the bearer token.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The shared core's outcome: `allow`, `deny`, `refused`, `no_route` or
    /// `method_not_allowed`.
    pub core: String,
    /// The worker's status.
    pub edge: u16,
    /// What `wrangler dev` answers instead, where its proxy answers first.
    #[serde(default)]
    pub wrangler: Option<u16>,
    /// The path the origin must see, when the request is forwarded.
    #[serde(default)]
    pub origin_path: Option<String>,
    /// The method the origin must see, when the request is forwarded.
    #[serde(default)]
    pub origin_method: Option<String>,
    /// The query the origin must see, when the request is forwarded.
    #[serde(default)]
    pub origin_query: Option<String>,
    /// Why the case is there.
    #[serde(default)]
    pub note: Option<String>,
}

/// The table.
pub fn table() -> Table {
    toml::from_str(include_str!("../../shared/tests/data/request_cases.toml")).unwrap()
}

/// `<repeat:c:n>` in a path stands for `c` repeated `n` times.
pub fn expand(path: &str) -> String {
    let Some(start) = path.find("<repeat:") else {
        return path.to_owned();
    };
    let end = path[start..].find('>').unwrap() + start;
    let mut parts = path[start + 8..end].split(':');
    let (text, count) = (
        parts.next().unwrap(),
        parts.next().unwrap().parse().unwrap(),
    );
    format!(
        "{}{}{}",
        &path[..start],
        text.repeat(count),
        &path[end + 1..]
    )
}
