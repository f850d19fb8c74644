//! The live matrix beside the staged candidate's: for each action, both outcomes, and
//! whether the candidate would change it. No I/O here.

use cedargate::{ActionDecision, Outcome};
use std::collections::BTreeMap;

/// One action, as the live bundle and the staged candidate decide it for the same
/// principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub action: String,
    /// The live bundle's decision; `None` when only the candidate has the action.
    pub live: Option<ActionDecision>,
    /// The candidate's decision; `None` when the candidate drops the action.
    pub staged: Option<ActionDecision>,
    /// Whether the edge enforces the action's decisions (`false`: monitor mode, a refusal
    /// is forwarded as would-deny).
    pub enforced: bool,
}

/// An outcome in words: `Allow`, `Deny`, `Depends on the request`, or `No such action`.
pub fn outcome_word(decision: Option<&ActionDecision>) -> &'static str {
    match decision.map(|d| d.outcome) {
        Some(Some(Outcome::Allow)) => "Allow",
        Some(Some(Outcome::Deny)) => "Deny",
        Some(None) => "Depends on the request",
        None => "No such action",
    }
}

impl Comparison {
    /// Whether the candidate decides differently: another outcome, or the same outcome
    /// decided by other policies, or the action added or dropped.
    pub fn changed(&self) -> bool {
        match (&self.live, &self.staged) {
            (Some(live), Some(staged)) => {
                live.outcome != staged.outcome || sorted(&live.policies) != sorted(&staged.policies)
            }
            (None, None) => false,
            _ => true,
        }
    }

    /// Whether the outcome itself changes (not only the deciding policies).
    pub fn outcome_changed(&self) -> bool {
        outcome_word(self.live.as_ref()) != outcome_word(self.staged.as_ref())
    }

    /// The change in words: `Allow → Deny`, `same outcome, other policies`, or `None`
    /// when nothing changes.
    pub fn change_text(&self) -> Option<String> {
        if !self.changed() {
            return None;
        }
        Some(if self.outcome_changed() {
            format!(
                "{} → {}",
                outcome_word(self.live.as_ref()),
                outcome_word(self.staged.as_ref())
            )
        } else {
            "same outcome, other policies".to_owned()
        })
    }

    /// The candidate's deciding policies (empty when it has none or drops the action).
    pub fn staged_policies(&self) -> &[String] {
        self.staged
            .as_ref()
            .map(|d| d.policies.as_slice())
            .unwrap_or_default()
    }
}

fn sorted(ids: &[String]) -> Vec<&String> {
    let mut ids: Vec<&String> = ids.iter().collect();
    ids.sort();
    ids
}

/// Every action of either matrix, in the live matrix's order and then the candidate's new
/// ones. An action missing from `enforced` (an edge without monitor mode) is enforced.
pub fn compare(
    live: &[ActionDecision],
    staged: &[ActionDecision],
    enforced: &BTreeMap<String, bool>,
) -> Vec<Comparison> {
    let by_action = |rows: &[ActionDecision], action: &str| {
        rows.iter().find(|row| row.action == action).cloned()
    };
    let mut actions: Vec<&str> = live.iter().map(|row| row.action.as_str()).collect();
    for row in staged {
        if !actions.contains(&row.action.as_str()) {
            actions.push(&row.action);
        }
    }
    actions
        .into_iter()
        .map(|action| Comparison {
            action: action.to_owned(),
            live: by_action(live, action),
            staged: by_action(staged, action),
            enforced: enforced.get(action).copied().unwrap_or(true),
        })
        .collect()
}
