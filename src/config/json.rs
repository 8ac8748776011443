//! The JSON tree clawinit edits: JSON5 in (as OpenClaw reads it), JSON out
//! byte for byte as OpenClaw writes it (`JSON.stringify(cfg, null, 2)` plus a
//! newline), and object paths.

use std::fmt;
use std::io::Write;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::{Map, Value};

/// An object path: `["agents", "defaults", "models", "moonshot/kimi-k2.5"]`.
pub type Path = Vec<String>;

pub fn path(dotted: &str) -> Path {
    dotted.split('.').map(str::to_string).collect()
}

/// A path for messages: dotted, with keys that are not identifiers quoted.
pub struct Shown<'a>(pub &'a [String]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, key) in self.0.iter().enumerate() {
            let plain = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-$".contains(&b));
            match (plain, i) {
                (true, 0) => write!(f, "{key}")?,
                (true, _) => write!(f, ".{key}")?,
                (false, _) => write!(f, "[{}]", Value::String(key.clone()))?,
            }
        }
        Ok(())
    }
}

/// A JSON5 syntax error with its 1-based position. Holds no input text.
#[derive(Debug, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub what: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.what)
    }
}

/// How deep objects and arrays may nest in openclaw.json or an overlay. Real
/// configs are far below it (the golden configs in tests/golden are 5-6 deep;
/// the whole OpenClaw JSON schema, which nests deeper than any instance, is
/// 26). The `json5` crate recurses once per level and overflowed the stack on
/// a 60 KB file; serde_json gives up at 128, so 128 is where both agree.
pub const MAX_DEPTH: usize = 128;

pub fn parse_json5(text: &str) -> Result<Value, SyntaxError> {
    check_depth(text)?;
    // Files OpenClaw or clawinit wrote are plain JSON, which serde_json reads
    // several times faster; JSON is JSON5, so the result is the same.
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    json5::from_str::<Value>(text).map_err(|e| {
        let (line, column) = e.position().map_or((0, 0), |p| (p.line + 1, p.column + 1));
        // The message is the error code alone; the position is ours.
        let what = e.code().map_or_else(|| "invalid JSON5".to_string(), |c| c.to_string());
        SyntaxError { line, column, what }
    })
}

/// Refuse nesting deeper than `MAX_DEPTH` before any recursive parser runs: an
/// iterative scan of the brackets, skipping JSON5 strings (`'...'`, `"..."`,
/// with backslash escapes) and comments (`//` to a JSON5 line terminator, `/* */`),
/// so brackets inside them do not count. The scan only has to agree with the
/// parsers on valid input; on invalid input they stop with a syntax error first.
fn check_depth(text: &str) -> Result<(), SyntaxError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    let (line, column) = position(text, i);
                    return Err(SyntaxError { line, column, what: format!("nested deeper than {MAX_DEPTH} levels") });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            quote @ (b'"' | b'\'') => i = skip_string(bytes, i + 1, quote),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line_comment(bytes, i + 2),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i + 2),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The index of the closing quote (or the end of the text).
fn skip_string(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    while i < bytes.len() && bytes[i] != quote {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i
}

/// The index of the line terminator ending the comment: `\n`, `\r`, U+2028 or
/// U+2029 (E2 80 A8/A9 in UTF-8), as in the JSON5 spec and the json5 crate.
fn skip_line_comment(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' => return i,
            0xE2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) => return i,
            _ => i += 1,
        }
    }
    i
}

/// The index of the `/` closing the comment (or the end of the text).
fn skip_block_comment(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            return i + 1;
        }
        i += 1;
    }
    i
}

/// 1-based line and column (in characters) of byte `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// `JSON.stringify(value, null, 2) + "\n"`, numbers included.
pub fn to_openclaw_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, JsFormatter(PrettyFormatter::with_indent(b"  ")));
    value.serialize(&mut ser).expect("serializing a JSON value into memory cannot fail");
    out.push(b'\n');
    out
}

/// serde_json's pretty printer, with JavaScript's number formatting
/// (`1` not `1.0`, `1e+21`, `0.000001`), so a file OpenClaw wrote and a file
/// clawinit wrote compare equal byte for byte.
struct JsFormatter<'a>(PrettyFormatter<'a>);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $name<W: ?Sized + Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
            self.0.$name(w $(, $arg)*)
        }
    )*};
}

impl Formatter for JsFormatter<'_> {
    delegate! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        begin_object_value();
        end_object_value();
    }

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> std::io::Result<()> {
        w.write_all(js_number(value).as_bytes())
    }
}

/// ECMAScript Number::toString for finite values.
fn js_number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp.parse::<i32>().expect("{:e} exponent is an integer") + 1;
    let sign = if x < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e >= 0 { format!("+{e}") } else { e.to_string() };
        match k {
            1 => format!("{digits}e{e}"),
            _ => format!("{}.{}e{e}", &digits[..1], &digits[1..]),
        }
    };
    format!("{sign}{body}")
}

pub fn get<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |node, key| node.as_object()?.get(key))
}

/// Set `path` to `value`, creating (or, for a non-object in the way,
/// replacing) the objects above it. Returns the paths of objects it created,
/// so they can be pruned if they later become empty.
pub fn set(root: &mut Value, path: &[String], value: Value) -> Vec<Path> {
    let mut created = Vec::new();
    let mut node = root;
    for (depth, key) in path.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let map = node.as_object_mut().expect("made an object above");
        if depth + 1 == path.len() {
            map.insert(key.clone(), value);
            break;
        }
        if !map.get(key).is_some_and(Value::is_object) {
            created.push(path[..=depth].to_vec());
        }
        node = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    }
    created
}

/// Make every object along `path` exist (replacing non-objects), as `set`
/// would; returns the paths it created.
pub fn ensure_objects(root: &mut Value, path: &[String]) -> Vec<Path> {
    let mut created = Vec::new();
    let mut node = root;
    for (depth, key) in path.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let map = node.as_object_mut().expect("made an object above");
        if !map.get(key).is_some_and(Value::is_object) {
            created.push(path[..=depth].to_vec());
            map.insert(key.clone(), Value::Object(Map::new()));
        }
        node = map.get_mut(key).expect("inserted above");
    }
    created
}

/// Remove `path`; returns the value that was there.
pub fn remove(root: &mut Value, path: &[String]) -> Option<Value> {
    let (last, parents) = path.split_last()?;
    let mut node = root;
    for key in parents {
        node = node.as_object_mut()?.get_mut(key)?;
    }
    node.as_object_mut()?.shift_remove(last)
}

pub fn is_empty_object(value: Option<&Value>) -> bool {
    value.and_then(Value::as_object).is_some_and(Map::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_json5_as_openclaw_does() {
        let v = parse_json5("// c\n{ a: 1, 'b': [2,], /* x */ \"c\": {d: .5,}, }").unwrap();
        assert_eq!(v, json!({"a": 1, "b": [2], "c": {"d": 0.5}}));
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["a", "b", "c"], "key order is kept");
    }

    #[test]
    fn nesting_is_limited_before_parsing() {
        let deep = |n: usize| format!("{{a: {}1{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
        assert!(parse_json5(&deep(MAX_DEPTH)).is_ok());
        let err = parse_json5(&deep(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!((err.line, err.column, err.what.as_str()), (1, 132, "nested deeper than 128 levels"));
        assert!(parse_json5(&format!("\n{}", deep(100_000))).unwrap_err().what.contains("nested deeper"));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let noise = "[".repeat(200);
        for text in [
            format!("{{a: \"{noise}\"}}"),
            format!("{{a: '{noise}'}}"),
            format!("{{a: 'it\\'s {noise}', b: \"\\\"{noise}\"}}"),
            format!("// {noise}\n{{a: 1}}"),
            format!("{{/* {noise} */ a: 1}}"),
            format!("{{a: 1 // {noise}\r}}"),
        ] {
            assert!(parse_json5(&text).is_ok(), "{text}");
        }
        // A comment ends at U+2028 for json5: brackets after it are counted.
        let hidden = format!("{{a: 1, // x{} b: {}{}}}", "\u{2028}", "[".repeat(200), "]".repeat(200));
        assert!(parse_json5(&hidden).unwrap_err().what.contains("nested deeper"));
    }

    #[test]
    fn syntax_errors_have_a_position_and_no_text() {
        let err = parse_json5("{\n  a: 1,\n  b: sekrit-value\n}").unwrap_err();
        assert_eq!((err.line, err.column), (3, 6));
        assert!(!err.to_string().contains("sekrit"), "{err}");
    }

    #[test]
    fn writes_what_json_stringify_writes() {
        let v = json!({"a": [], "b": {}, "c": [1, {"d": "é\u{1}"}], "e": 1.0, "f": 0.5});
        let expected = "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": \"é\\u0001\"\n    }\n  ],\n  \"e\": 1,\n  \"f\": 0.5\n}\n";
        assert_eq!(String::from_utf8(to_openclaw_bytes(&v)).unwrap(), expected);
    }

    #[test]
    fn numbers_format_like_javascript() {
        for (x, js) in [
            (1.0, "1"),
            (-2.5, "-2.5"),
            (1e21, "1e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-9, "1.5e-9"),
            (0.1 + 0.2, "0.30000000000000004"),
            (2.5e300, "2.5e+300"),
        ] {
            assert_eq!(js_number(x), js, "{x}");
        }
    }

    #[test]
    fn set_creates_and_reports_parents_and_remove_returns_the_value() {
        let mut v = json!({"a": {"x": 1}, "s": "str"});
        let created = set(&mut v, &path("a.b.c"), json!(2));
        assert_eq!(created, vec![path("a.b")]);
        assert_eq!(get(&v, &path("a.b.c")), Some(&json!(2)));
        set(&mut v, &path("s.t"), json!(true));
        assert_eq!(v["s"], json!({"t": true}), "a scalar in the way is replaced");
        assert_eq!(remove(&mut v, &path("a.x")), Some(json!(1)));
        assert_eq!(remove(&mut v, &path("a.nope.z")), None);
    }

    #[test]
    fn shown_paths_quote_odd_keys() {
        let p = vec!["agents".into(), "defaults".into(), "models".into(), "moonshot/kimi-k2.5".into(), "alias".into()];
        assert_eq!(Shown(&p).to_string(), "agents.defaults.models[\"moonshot/kimi-k2.5\"].alias");
    }
}
