//! What the signed-in person may do on the edge's AuthZEN resources (the bundle endpoint's
//! `permitted_resources`, computed by the edge's decision point from entity data the app
//! never holds), arranged for showing: per resource type, each action with the ids it may
//! be done on, and which actions one id allows. No I/O here.

use cedargate::wire::PermittedResources;

/// One resource type's actions, in the order the edge sent them (by action name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceList {
    /// The AuthZEN resource type (`record`).
    pub resource_type: String,
    /// Each action with the ids of the resources it may be done on, sorted.
    pub actions: Vec<(String, Vec<String>)>,
}

impl ResourceList {
    /// The actions that may be done on `id` (compared exactly, after trimming spaces).
    pub fn actions_on(&self, id: &str) -> Vec<String> {
        let id = id.trim();
        self.actions
            .iter()
            .filter(|(_, ids)| ids.iter().any(|i| i == id))
            .map(|(action, _)| action.clone())
            .collect()
    }

    /// Every id some action may be done on, sorted, each once.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .actions
            .iter()
            .flat_map(|(_, ids)| ids.iter().cloned())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// The edge's list grouped by resource type, types in order of first appearance.
pub fn by_resource_type(permitted: &[PermittedResources]) -> Vec<ResourceList> {
    let mut out: Vec<ResourceList> = Vec::new();
    for p in permitted {
        let mut ids = p.ids.clone();
        ids.sort();
        ids.dedup();
        match out.iter_mut().find(|l| l.resource_type == p.resource_type) {
            Some(list) => list.actions.push((p.action.clone(), ids)),
            None => out.push(ResourceList {
                resource_type: p.resource_type.clone(),
                actions: vec![(p.action.clone(), ids)],
            }),
        }
    }
    out
}

/// "1 record", "5 records", "no record".
pub fn count_text(count: usize, resource_type: &str) -> String {
    match count {
        0 => format!("no {resource_type}"),
        1 => format!("1 {resource_type}"),
        n => format!("{n} {resource_type}s"),
    }
}
