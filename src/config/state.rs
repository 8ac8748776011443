//! What clawinit wrote into openclaw.json last time, kept beside it, so a
//! later start can tell its own entries (update or remove them) from the
//! user's (leave them alone). Holds references and defaults, never a secret.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::json::Path;

const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// Paths clawinit set, with the value it set.
    pub managed: Vec<Owned>,
    /// Objects clawinit created to hold its entries; pruned once empty.
    pub created: Vec<Path>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owned {
    pub path: Path,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Path>,
}

impl Default for State {
    fn default() -> State {
        State { version: VERSION, managed: Vec::new(), created: Vec::new() }
    }
}

impl State {
    pub fn recorded(&self, path: &[String]) -> Option<&Value> {
        self.managed.iter().find(|o| o.path == path).map(|o| &o.value)
    }

    /// Parse a state file; an unreadable or foreign one counts as empty, so a
    /// damaged state file never blocks a start (clawinit then treats every
    /// entry in openclaw.json as the user's, which loses nothing).
    pub fn parse(bytes: &[u8]) -> Option<State> {
        serde_json::from_slice::<State>(bytes).ok().filter(|s| s.version == VERSION)
    }

    /// One line per entry, so the file reads (and diffs) as a list.
    pub fn to_bytes(&self) -> Vec<u8> {
        format!(
            "{{\n  \"version\": {},\n  \"managed\": {},\n  \"created\": {}\n}}\n",
            self.version,
            list(&self.managed),
            list(&self.created)
        )
        .into_bytes()
    }
}

fn list<T: Serialize>(items: &[T]) -> String {
    if items.is_empty() {
        return "[]".into();
    }
    let lines: Vec<String> = items.iter().map(|i| serde_json::to_string(i).expect("state serializes")).collect();
    format!("[\n    {}\n  ]", lines.join(",\n    "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_rejects_foreign_files() {
        let state = State {
            version: VERSION,
            managed: vec![Owned { path: vec!["gateway".into(), "mode".into()], value: json!("local"), group: None }],
            created: vec![vec!["gateway".into()]],
        };
        assert_eq!(State::parse(&state.to_bytes()), Some(state.clone()));
        assert_eq!(state.recorded(&["gateway".to_string(), "mode".to_string()]), Some(&json!("local")));
        assert_eq!(State::parse(b"{\"version\": 99, \"managed\": [], \"created\": []}"), None);
        assert_eq!(State::parse(b"not json"), None);
    }
}
