//! The `sops` metadata block, read from the nested form every store reduces it
//! to (dotenv's flattened `sops_*` lines are unflattened first), and the crypt
//! rule that decides which leaves are encrypted.

use regex_lite::Regex;
use serde_json::Value as Json;

use super::error::Error;
use super::golang;

/// How a store spells a metadata field in its own syntax, so errors name the
/// field the user can find in the file (`sops_mac` vs `sops.mac`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldStyle {
    Flat,
    Nested,
}

impl FieldStyle {
    pub fn name(self, field: &str) -> String {
        match self {
            FieldStyle::Flat => format!("sops_{field}"),
            FieldStyle::Nested => format!("sops.{field}"),
        }
    }

    pub fn age_field(self, index: usize, field: &str) -> String {
        match self {
            FieldStyle::Flat => format!("sops_age__list_{index}__map_{field}"),
            FieldStyle::Nested => format!("sops.age[{index}].{field}"),
        }
    }
}

/// One age stanza: the recipient is a label only; `enc` is the armored age file
/// holding the data key.
#[derive(Debug, Clone)]
pub struct AgeEntry {
    pub recipient: String,
    pub enc: String,
}

/// Which leaves are encrypted (`Tree.shouldBeEncrypted` in sops).
#[derive(Debug)]
pub enum CryptRule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
    UnencryptedCommentRegex(Regex),
    EncryptedCommentRegex(Regex),
}

#[derive(Debug)]
pub struct Metadata {
    pub style: FieldStyle,
    /// The MAC's AAD: lastmodified re-formatted as Go prints RFC 3339.
    pub mac_aad: String,
    /// The stored MAC (`ENC[...]`), empty when absent.
    pub mac: String,
    pub mac_only_encrypted: bool,
    pub rule: CryptRule,
    pub age: Vec<AgeEntry>,
    /// Non-age master key types present (pgp, kms, ...), for the error message.
    pub other_key_types: Vec<&'static str>,
}

const OTHER_KEY_TYPES: [&str; 6] = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"];

impl Metadata {
    pub fn parse(sops: &Json, style: FieldStyle) -> Result<Metadata, Error> {
        let err = |msg: String| Error::malformed(msg);
        let map = sops.as_object().ok_or_else(|| err("the sops metadata is not a map".into()))?;
        let text = |field: &str| -> Option<&str> { map.get(field).and_then(Json::as_str) };

        let version = text("version").ok_or_else(|| err(format!("{}: missing", style.name("version"))))?;
        if !golang::is_sops_version(version) {
            return Err(err(format!("{}: not a sops version (expected semver such as 3.11.0)", style.name("version"))));
        }
        let lastmodified =
            text("lastmodified").ok_or_else(|| err(format!("{}: missing", style.name("lastmodified"))))?;
        let mac_aad = golang::reformat_rfc3339(lastmodified)
            .ok_or_else(|| err(format!("{}: not an RFC 3339 timestamp", style.name("lastmodified"))))?;

        if let Some(groups) = map.get("key_groups") {
            if groups.as_array().is_some_and(|g| !g.is_empty()) {
                return Err(err(format!(
                    "{}: Shamir key groups are unsupported (use one key group with several age recipients)",
                    style.name("key_groups")
                )));
            }
        }

        let age = parse_age(map.get("age"), style)?;
        let other_key_types = OTHER_KEY_TYPES
            .into_iter()
            .filter(|t| map.get(*t).and_then(Json::as_array).is_some_and(|a| !a.is_empty()))
            .collect();

        let mac_only_encrypted = match map.get("mac_only_encrypted") {
            Some(Json::Bool(b)) => *b,
            Some(Json::String(s)) => s == "true",
            _ => false,
        };

        Ok(Metadata {
            style,
            mac_aad,
            mac: text("mac").unwrap_or_default().to_string(),
            mac_only_encrypted,
            rule: parse_rule(map, style)?,
            age,
            other_key_types,
        })
    }
}

fn parse_age(age: Option<&Json>, style: FieldStyle) -> Result<Vec<AgeEntry>, Error> {
    let Some(age) = age else {
        return Ok(Vec::new());
    };
    let list = age.as_array().ok_or_else(|| Error::malformed(format!("{}: not a list", style.name("age"))))?;
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let field = |name: &str| entry.get(name).and_then(Json::as_str).map(str::to_string);
            let enc = field("enc").filter(|e| !e.is_empty());
            let enc = enc.ok_or_else(|| Error::malformed(format!("{}: missing", style.age_field(i, "enc"))))?;
            Ok(AgeEntry { recipient: field("recipient").unwrap_or_default(), enc })
        })
        .collect()
}

fn parse_rule(map: &serde_json::Map<String, Json>, style: FieldStyle) -> Result<CryptRule, Error> {
    const FIELDS: [&str; 6] = [
        "unencrypted_suffix",
        "encrypted_suffix",
        "unencrypted_regex",
        "encrypted_regex",
        "unencrypted_comment_regex",
        "encrypted_comment_regex",
    ];
    let set: Vec<(&str, &str)> = FIELDS
        .iter()
        .filter_map(|f| map.get(*f).and_then(Json::as_str).filter(|v| !v.is_empty()).map(|v| (*f, v)))
        .collect();
    let (field, value) = match set.as_slice() {
        [] => return Ok(CryptRule::UnencryptedSuffix("_unencrypted".into())),
        [one] => *one,
        _ => {
            let names: Vec<String> = set.iter().map(|(f, _)| style.name(f)).collect();
            return Err(Error::malformed(format!("more than one crypt rule is set: {}", names.join(", "))));
        }
    };
    let regex = || {
        Regex::new(value)
            .map_err(|_| Error::malformed(format!("{}: not a valid regular expression", style.name(field))))
    };
    Ok(match field {
        "unencrypted_suffix" => CryptRule::UnencryptedSuffix(value.into()),
        "encrypted_suffix" => CryptRule::EncryptedSuffix(value.into()),
        "unencrypted_regex" => CryptRule::UnencryptedRegex(regex()?),
        "encrypted_regex" => CryptRule::EncryptedRegex(regex()?),
        "unencrypted_comment_regex" => CryptRule::UnencryptedCommentRegex(regex()?),
        _ => CryptRule::EncryptedCommentRegex(regex()?),
    })
}

impl CryptRule {
    /// sops's `shouldBeEncrypted`. `path` holds the map keys from the root to the
    /// leaf; `comments` the runs of comments preceding it, one run per nesting
    /// level; `is_comment` whether the leaf is itself a comment.
    pub fn encrypts<P: AsRef<str>, C: AsRef<[u8]>>(&self, path: &[P], comments: &[Vec<C>], is_comment: bool) -> bool {
        let path = || path.iter().map(AsRef::as_ref);
        match self {
            CryptRule::UnencryptedSuffix(s) => !path().any(|p| p.ends_with(s.as_str())),
            CryptRule::EncryptedSuffix(s) => path().any(|p| p.ends_with(s.as_str())),
            CryptRule::UnencryptedRegex(r) => !path().any(|p| r.is_match(p)),
            CryptRule::EncryptedRegex(r) => path().any(|p| r.is_match(p)),
            CryptRule::UnencryptedCommentRegex(r) => {
                !comments.iter().flatten().any(|c| r.is_match(&String::from_utf8_lossy(c.as_ref())))
            }
            CryptRule::EncryptedCommentRegex(r) => {
                // sops does not encrypt the comment line that matches the regex
                // itself: the last comment of the innermost run is skipped when the
                // leaf is that comment.
                let last_level = comments.len().saturating_sub(1);
                comments.iter().enumerate().any(|(level, run)| {
                    run.iter().enumerate().any(|(j, c)| {
                        let is_self = is_comment && level == last_level && j + 1 == run.len();
                        !is_self && r.is_match(&String::from_utf8_lossy(c.as_ref()))
                    })
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Json {
        json!({"version": "3.11.0", "lastmodified": "2026-11-21T14:18:52Z", "mac": "ENC[...]",
               "age": [{"recipient": "age1x", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\n"}]})
    }

    #[test]
    fn defaults_to_unencrypted_suffix() {
        let m = Metadata::parse(&base(), FieldStyle::Flat).unwrap();
        assert!(matches!(m.rule, CryptRule::UnencryptedSuffix(ref s) if s == "_unencrypted"));
        assert!(!m.mac_only_encrypted);
        assert_eq!(m.mac_aad, "2026-11-21T14:18:52Z");
    }

    #[test]
    fn errors_name_the_field_in_the_store_spelling() {
        let mut m = base();
        m["version"] = json!("banana");
        assert_eq!(Metadata::parse(&m, FieldStyle::Flat).unwrap_err().message.split(':').next(), Some("sops_version"));
        m.as_object_mut().unwrap().remove("version");
        assert!(Metadata::parse(&m, FieldStyle::Nested).unwrap_err().message.starts_with("sops.version: missing"));
        let mut m = base();
        m["lastmodified"] = json!("2026-11-21T14:18:52Z\r");
        assert!(Metadata::parse(&m, FieldStyle::Flat).unwrap_err().message.starts_with("sops_lastmodified"));
    }

    #[test]
    fn rejects_two_rules_and_key_groups() {
        let mut m = base();
        m["encrypted_regex"] = json!("^a");
        m["unencrypted_suffix"] = json!("_u");
        assert!(Metadata::parse(&m, FieldStyle::Flat).unwrap_err().message.contains("more than one crypt rule"));
        let mut m = base();
        m["key_groups"] = json!([{"age": []}, {"age": []}]);
        assert!(Metadata::parse(&m, FieldStyle::Flat).unwrap_err().message.contains("Shamir"));
    }

    #[test]
    fn crypt_rules_follow_sops() {
        const NO_COMMENTS: &[Vec<&[u8]>] = &[];
        const NO_PATH: &[&str] = &[];
        let r = CryptRule::UnencryptedSuffix("_unencrypted".into());
        assert!(r.encrypts(&["KEY"], NO_COMMENTS, false));
        assert!(!r.encrypts(&["REGION_unencrypted"], NO_COMMENTS, false));
        assert!(r.encrypts(&["REGION_UNENCRYPTED"], NO_COMMENTS, false));
        assert!(r.encrypts(NO_PATH, NO_COMMENTS, true), "top-level comments are encrypted");
        let r = CryptRule::EncryptedRegex(Regex::new("^(pass|token)").unwrap());
        assert!(r.encrypts(&["a", "password"], NO_COMMENTS, false));
        assert!(!r.encrypts(&["user"], NO_COMMENTS, false));
        assert!(!r.encrypts(NO_PATH, NO_COMMENTS, true), "comments stay plain under encrypted_regex");
        let r = CryptRule::EncryptedCommentRegex(Regex::new("sops:enc").unwrap());
        let run: Vec<&[u8]> = vec![b" sops:enc"];
        assert!(r.encrypts(&["K"], std::slice::from_ref(&run), false));
        assert!(!r.encrypts(NO_PATH, std::slice::from_ref(&run), true), "the marker comment itself stays plain");
    }
}
