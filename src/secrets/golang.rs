//! The few Go standard-library behaviours sops's output depends on: float
//! formatting (`strconv.FormatFloat`), `strconv.ParseBool`, RFC 3339
//! re-formatting (`time.Format`) and the semver check sops runs on
//! `sops_version`. Each is small, pure and tested against values observed
//! from the real sops 3.11 binary.

/// `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an
/// exponent. Rust's `Display` for `f64` is exactly that for finite values.
pub fn format_float_plain(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// sops's `stores.ValToString` for a float: `FormatFloat(v, 'G', -1, 64)`, and
/// `FormatFloat(v, 'f', 1, 64)` when that result could be mistaken for an integer
/// (so `8080` becomes `8080.0` and `1e21` becomes `1E+21`).
pub fn format_float_for_env(v: f64) -> String {
    if !v.is_finite() {
        return format_float_plain(v);
    }
    let g = format_float_g(v);
    if g.contains('.') || g.contains('E') {
        g
    } else {
        format!("{v:.1}")
    }
}

/// `strconv.FormatFloat(v, 'G', -1, 64)` for a finite `v`.
fn format_float_g(v: f64) -> String {
    // `{:e}` gives the shortest round-trip digits as `d.ddde<exp>`.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if v.is_sign_negative() { "-" } else { "" };
    // Go: with shortest formatting the %e form is used when exp < -4 || exp >= 6.
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}E{exp_sign}{:02}", exp.abs())
    } else {
        format!("{sign}{}", v.abs())
    }
}

/// `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `strconv.Atoi`: optional sign, decimal digits, 64-bit range.
pub fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse an RFC 3339 timestamp as Go's `time.Parse(time.RFC3339, s)` does and
/// return it as `time.Format(time.RFC3339)` prints it: fractional seconds
/// dropped, a zero offset printed as `Z`, any other offset as `+hh:mm`.
/// sops uses the re-formatted string as the AAD of the MAC.
pub fn reformat_rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r.clone()).filter(|d| d.iter().all(u8::is_ascii_digit)).map(|_| &s[r]);
    let date_time_ok = b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    if !date_time_ok {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let num = |x: &str| x.parse::<u32>().ok();
    let (y, mo, d) = (num(year)?, num(month)?, num(day)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    if num(hour)? > 23 || num(minute)? > 59 || num(second)? > 59 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let zone = match rest {
        "Z" => "Z".to_string(),
        _ => {
            let zb = rest.as_bytes();
            let well_formed = zb.len() == 6
                && (zb[0] == b'+' || zb[0] == b'-')
                && zb[3] == b':'
                && [1, 2, 4, 5].iter().all(|&i| zb[i].is_ascii_digit());
            if !well_formed {
                return None;
            }
            let (hh, mm) = (num(&rest[1..3])?, num(&rest[4..6])?);
            if hh > 23 || mm > 59 {
                return None;
            }
            if hh == 0 && mm == 0 {
                "Z".to_string()
            } else {
                rest.to_string()
            }
        }
    };
    Some(format!("{}{}", &s[..19], zone))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// sops's CLI refuses a file whose `version` is not semver (it compares it with
/// 3.3.0 to detect an old KMS bug). A leading `v` is tolerated and `1.x` strings
/// count as sops 1.
pub fn is_sops_version(version: &str) -> bool {
    let v = version.strip_prefix('v').unwrap_or(version);
    if v.starts_with("1.") {
        return true;
    }
    let (core, _build) = v.split_once('+').unwrap_or((v, ""));
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let numeric = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'));
    let parts: Vec<&str> = core.split('.').collect();
    let pre_ok = pre.is_none_or(|p| !p.is_empty() && p.split('.').all(|id| !id.is_empty()));
    parts.len() == 3 && parts.iter().all(|p| numeric(p)) && pre_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_floats_match_go() {
        assert_eq!(format_float_plain(8080.0), "8080");
        assert_eq!(format_float_plain(1e21), "1000000000000000000000");
        assert_eq!(format_float_plain(0.1), "0.1");
        assert_eq!(format_float_plain(1e-7), "0.0000001");
        assert_eq!(format_float_plain(-2.5), "-2.5");
    }

    #[test]
    fn env_floats_match_sops_val_to_string() {
        assert_eq!(format_float_for_env(8080.0), "8080.0");
        assert_eq!(format_float_for_env(1e21), "1E+21");
        assert_eq!(format_float_for_env(1234567.0), "1.234567E+06");
        assert_eq!(format_float_for_env(100000.0), "100000.0");
        assert_eq!(format_float_for_env(0.0001), "0.0001");
        assert_eq!(format_float_for_env(0.00001), "1E-05");
        assert_eq!(format_float_for_env(3.25), "3.25");
        assert_eq!(format_float_for_env(-1e6), "-1E+06");
    }

    #[test]
    fn rfc3339_reformats_like_go() {
        assert_eq!(reformat_rfc3339("2026-11-21T14:18:52Z").unwrap(), "2026-11-21T14:18:52Z");
        assert_eq!(reformat_rfc3339("2026-11-21T14:18:52+00:00").unwrap(), "2026-11-21T14:18:52Z");
        assert_eq!(reformat_rfc3339("2026-11-21T14:18:52.123Z").unwrap(), "2026-11-21T14:18:52Z");
        assert_eq!(reformat_rfc3339("2026-11-21T14:18:52+02:00").unwrap(), "2026-11-21T14:18:52+02:00");
        for bad in [
            "2026-11-21T14:18:52Z\r",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "yesterday",
            "2026-11-21 14:18:52Z",
            "",
        ] {
            assert!(reformat_rfc3339(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn sops_versions() {
        for ok in ["3.11.0", "v3.7.3", "1.14", "3.12.0-rc.1", "3.0.0+build"] {
            assert!(is_sops_version(ok), "{ok}");
        }
        for bad in ["", "3.11", "three", "3.11.0.1", "03.1.0", "3.11.0-"] {
            assert!(!is_sops_version(bad), "{bad}");
        }
    }

    #[test]
    fn go_bools_and_ints() {
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(parse_int("-42"), Some(-42));
        assert_eq!(parse_int("4 2"), None);
        assert_eq!(parse_int("+"), None);
    }
}
