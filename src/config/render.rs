//! Apply a plan to the existing openclaw.json: the user's content is kept,
//! clawinit's own entries (per the state file) are updated or retired, and
//! environment and overlay values win. Pure: tree in, tree out.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::json::{self, Path, Shown};
use super::plan::{Entry, Plan, Rule};
use super::state::{Owned, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Updated,
    Removed,
    /// A default clawinit would write, but the file holds the user's value.
    KeptUser,
    /// clawinit's entry is no longer wanted, but the user edited it.
    KeptEdited,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: Path,
    pub why: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = Shown(&self.path);
        match self.kind {
            ChangeKind::Added => write!(f, "+ {path} ({})", self.why),
            ChangeKind::Updated => write!(f, "~ {path} ({})", self.why),
            ChangeKind::Removed => write!(f, "- {path} ({})", self.why),
            ChangeKind::KeptUser => write!(f, "= {path} (kept: set in the file)"),
            ChangeKind::KeptEdited => write!(f, "= {path} (kept: edited since clawinit wrote it; {})", self.why),
        }
    }
}

pub struct Rendered {
    pub doc: Value,
    pub state: State,
    pub changes: Vec<Change>,
}

pub fn render(existing: Option<Value>, previous: &State, plan: &Plan) -> Rendered {
    let mut doc = existing.unwrap_or_else(|| Value::Object(Map::new()));
    let mut changes = Vec::new();
    let mut created: Vec<Path> = previous.created.clone();
    normalize_model(&mut doc, plan);

    // Last entry per path wins (the overlay comes last).
    let mut wanted: Vec<&Entry> = Vec::new();
    let mut index: HashMap<&Path, usize> = HashMap::new();
    for entry in &plan.entries {
        match index.get(&entry.path) {
            Some(&i) => wanted[i] = entry,
            None => {
                index.insert(&entry.path, wanted.len());
                wanted.push(entry);
            }
        }
    }

    retire(&mut doc, previous, &index, &created, &mut changes);

    // A non-object in the way of what the environment sets is replaced
    // first, so whether a default fits does not depend on entry order.
    for entry in wanted.iter().filter(|e| e.rule == Rule::Wins) {
        if blocked_by_scalar(&doc, &entry.path) {
            created.extend(json::ensure_objects(&mut doc, &entry.path[..entry.path.len() - 1]));
        }
    }

    let mut managed = Vec::new();
    for entry in wanted {
        let current = json::get(&doc, &entry.path);
        let ours = previous.recorded(&entry.path);
        let write = match entry.rule {
            Rule::Wins => true,
            Rule::Default => match current {
                // Never through a user's non-object: that would replace it.
                None if blocked_by_scalar(&doc, &entry.path) => false,
                None => true,
                Some(c) if Some(c) == ours => true,
                Some(c) => {
                    if c != &entry.value {
                        changes.push(Change {
                            kind: ChangeKind::KeptUser,
                            path: entry.path.clone(),
                            why: String::new(),
                        });
                    }
                    false
                }
            },
        };
        if !write {
            continue;
        }
        if current != Some(&entry.value) {
            let kind = if current.is_some() { ChangeKind::Updated } else { ChangeKind::Added };
            changes.push(Change { kind, path: entry.path.clone(), why: entry.why.clone() });
            created.extend(json::set(&mut doc, &entry.path, entry.value.clone()));
        }
        managed.push(Owned { path: entry.path.clone(), value: entry.value.clone(), group: entry.group.clone() });
    }

    for path in &plan.deletes {
        if json::remove(&mut doc, path).is_some() {
            changes.push(Change {
                kind: ChangeKind::Removed,
                path: path.clone(),
                why: "CLAWINIT_CONFIG_OVERLAY".into(),
            });
        }
        managed.retain(|o| !o.path.starts_with(path));
    }

    // Keep only created objects that still exist; dedupe, stable order.
    let mut seen = HashSet::new();
    created.retain(|p| json::get(&doc, p).is_some_and(Value::is_object) && seen.insert(p.clone()));
    Rendered { doc, state: State { managed, created, ..State::default() }, changes }
}

/// Retire what clawinit wrote before and no longer wants: a group goes as a
/// whole when every member still holds what clawinit wrote and the group's
/// object holds nothing else; otherwise it all stays, now the user's.
fn retire(
    doc: &mut Value,
    previous: &State,
    wanted: &HashMap<&Path, usize>,
    created: &[Path],
    changes: &mut Vec<Change>,
) {
    let mut groups: Vec<(Path, Vec<&Owned>)> = Vec::new();
    for owned in previous.managed.iter().filter(|o| !wanted.contains_key(&o.path)) {
        let key = owned.group.clone().unwrap_or_else(|| owned.path.clone());
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(owned),
            None => groups.push((key, vec![owned])),
        }
    }
    for (key, members) in groups {
        let untouched = members.iter().all(|o| json::get(doc, &o.path).is_none_or(|v| *v == o.value));
        let nothing_else = members[0].group.is_none()
            || json::get(doc, &key).and_then(Value::as_object).is_none_or(|obj| {
                obj.keys().all(|k| members.iter().any(|o| o.path.len() == key.len() + 1 && o.path.last() == Some(k)))
            });
        if !(untouched && nothing_else) {
            changes.push(Change { kind: ChangeKind::KeptEdited, path: key, why: "no longer set by clawinit".into() });
            continue;
        }
        let mut removed_any = false;
        for owned in &members {
            removed_any |= json::remove(doc, &owned.path).is_some();
            prune(doc, &owned.path, created);
        }
        if removed_any {
            changes.push(Change { kind: ChangeKind::Removed, path: key, why: "no longer set".into() });
        }
    }
}

fn blocked_by_scalar(doc: &Value, path: &[String]) -> bool {
    (1..path.len()).any(|depth| json::get(doc, &path[..depth]).is_some_and(|v| !v.is_object()))
}

/// Remove the empty objects clawinit created above `path`.
fn prune(doc: &mut Value, path: &[String], created: &[Path]) {
    for depth in (1..path.len()).rev() {
        let parent = &path[..depth];
        if !(json::is_empty_object(json::get(doc, parent)) && created.iter().any(|c| c == parent)) {
            break;
        }
        json::remove(doc, parent);
    }
}

/// `agents.defaults.model` may be a plain string; entries below it need the
/// object form, which says the same (`{"primary": "..."}`).
fn normalize_model(doc: &mut Value, plan: &Plan) {
    let model = json::path("agents.defaults.model");
    let below = |p: &Path| p.len() > model.len() && p.starts_with(&model);
    if !plan.entries.iter().any(|e| below(&e.path)) {
        return;
    }
    if let Some(Value::String(primary)) = json::get(doc, &model).cloned() {
        json::set(doc, &model, serde_json::json!({ "primary": primary }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::json::path;
    use serde_json::json;

    fn entry(dotted: &str, value: Value, rule: Rule, group: Option<&str>) -> Entry {
        Entry { path: path(dotted), value, rule, why: "T".into(), group: group.map(path) }
    }

    fn plan(entries: Vec<Entry>) -> Plan {
        Plan { entries, ..Plan::default() }
    }

    #[test]
    fn defaults_fill_gaps_and_never_override_the_user() {
        let existing = json!({"gateway": {"port": 3000}});
        let p = plan(vec![
            entry("gateway.port", json!(18789), Rule::Default, None),
            entry("gateway.mode", json!("local"), Rule::Default, None),
        ]);
        let r = render(Some(existing.clone()), &State::default(), &p);
        assert_eq!(r.doc, json!({"gateway": {"port": 3000, "mode": "local"}}));
        assert_eq!(r.state.managed.len(), 1, "only what clawinit wrote is recorded");
        assert!(r.changes.iter().any(|c| c.kind == ChangeKind::KeptUser));
    }

    #[test]
    fn a_second_run_changes_nothing() {
        let p = plan(vec![
            entry("models.providers.x.baseUrl", json!("http://x"), Rule::Default, Some("models.providers.x")),
            entry("a.b", json!(1), Rule::Wins, None),
        ]);
        let first = render(None, &State::default(), &p);
        let second = render(Some(first.doc.clone()), &first.state, &p);
        assert_eq!(second.doc, first.doc);
        assert_eq!(second.state, first.state);
        assert!(second.changes.is_empty(), "{:?}", second.changes);
    }

    #[test]
    fn retired_groups_go_whole_and_prune_what_clawinit_created() {
        let existing = json!({"models": {"providers": {}}});
        let group = Some("models.providers.x");
        let p = plan(vec![
            entry("models.providers.x.baseUrl", json!("http://x"), Rule::Default, group),
            entry("models.providers.x.models", json!([]), Rule::Default, group),
        ]);
        let first = render(Some(existing.clone()), &State::default(), &p);
        let gone = render(Some(first.doc.clone()), &first.state, &plan(vec![]));
        assert_eq!(gone.doc, existing, "the user's empty providers object stays");
        assert!(gone.state.managed.is_empty());
    }

    #[test]
    fn edited_groups_are_kept_and_become_the_users() {
        let group = Some("models.providers.x");
        let p = plan(vec![
            entry("models.providers.x.baseUrl", json!("http://x"), Rule::Default, group),
            entry("models.providers.x.models", json!([]), Rule::Default, group),
        ]);
        let first = render(None, &State::default(), &p);
        let mut edited = first.doc.clone();
        json::set(&mut edited, &path("models.providers.x.headers"), json!({"X-Team": "a"}));
        let after = render(Some(edited.clone()), &first.state, &plan(vec![]));
        assert_eq!(after.doc, edited);
        assert!(after.changes.iter().any(|c| c.kind == ChangeKind::KeptEdited));
        assert!(after.state.managed.is_empty(), "kept entries are no longer clawinit's");
    }

    #[test]
    fn environment_wins_and_the_overlay_deletes() {
        let existing = json!({"agents": {"defaults": {"model": "a/b"}}, "tools": {"x": 1, "y": 2}});
        let mut p = plan(vec![entry("agents.defaults.model.fallbacks", json!(["c/d"]), Rule::Wins, None)]);
        p.deletes.push(path("tools.x"));
        let r = render(Some(existing.clone()), &State::default(), &p);
        assert_eq!(
            r.doc,
            json!({"agents": {"defaults": {"model": {"primary": "a/b", "fallbacks": ["c/d"]}}}, "tools": {"y": 2}})
        );
    }
}
