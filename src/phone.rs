//! Phone numbers at the edge: normalise what a person typed or a switch sent into one stored
//! form, validate it, and know its structure for masking.
//!
//! Accepted forms (docs/security.md, "Input limits"), each stored as shown:
//! - mainland mobile, 11 digits, validated against libphonenumber's metadata: `13812345678`;
//! - mainland landline with its area code, validated likewise: `0536-1234567`, `010-12345678`
//!   (the area code is 3 digits for `010` and `02x`, 4 for all others, as China numbers them);
//! - the documented allowance for numbers the hotline really receives without an area code:
//!   a local landline of 7–8 digits starting 2–9 (`5231234`), a service number of 3–6 digits
//!   starting 1 or 9 (`12345`, `95588`), or a 400/800 number (`4001234567`);
//! - an international number with its country code, validated, stored in E.164: `+4915112345678`.
//!
//! Before parsing, full-width digits and signs are folded to ASCII and separators (spaces,
//! dashes, dots, brackets) dropped; `+86` and `0086` are stripped.

use phonenumber::country::Id as Country;

/// Longest raw input looked at; anything longer is refused before parsing.
pub const MAX_RAW_CHARS: usize = 40;

/// The structure of a stored number, which decides how it is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    Mobile,
    /// Landline with area code; `area_digits` counts the leading 0.
    Landline {
        area_digits: usize,
    },
    Local,
    Service,
    International,
    /// Anything else (a stored value from before validation): masked hardest.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    stored: String,
    structure: Structure,
}

impl Phone {
    pub fn as_str(&self) -> &str {
        &self.stored
    }
    pub fn into_string(self) -> String {
        self.stored
    }
    pub fn structure(&self) -> Structure {
        self.structure
    }
}

/// Why a number was refused (the caller prefixes the field name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PhoneError(pub String);

fn fold(c: char) -> Option<char> {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
        '＋' => Some('+'),
        '0'..='9' | '+' => Some(c),
        // separators people and switches use
        ' ' | '-' | '.' | '(' | ')' | '\u{3000}' | '－' | '（' | '）' | '—' | '‐' => None,
        _ => Some('?'),
    }
}

const FORMS: &str = "expected a mainland mobile (13812345678), a landline with area code \
                     (0536-1234567), a local number of 7-8 digits, a service number \
                     (12345, 4001234567) or an international number (+44 20 7946 0958)";

/// Loads libphonenumber's metadata and compiles the patterns China's numbers are checked
/// against, once, before the service takes requests: done lazily, it made the first request
/// carrying a phone number wait about 140 ms (docs/benchmarks.md, "The tenth round"). Other
/// countries' patterns (5 MB more) are still compiled when a number of theirs first comes.
pub fn warm_up() {
    for sample in ["13812345678", "0571-87654321", "010-12345678"] {
        let _ = parse(sample);
    }
}

/// Normalises and validates a phone number as typed or as sent by the telephony system.
pub fn parse(raw: &str) -> Result<Phone, PhoneError> {
    if raw.chars().count() > MAX_RAW_CHARS {
        return Err(PhoneError(format!(
            "at most {MAX_RAW_CHARS} characters; {FORMS}"
        )));
    }
    let folded: String = raw.chars().filter_map(fold).collect();
    let bad = || PhoneError(format!("'{}' is not a phone number; {FORMS}", raw.trim()));
    if folded.is_empty() || folded.contains('?') || folded[1..].contains('+') {
        return Err(bad());
    }
    let national = if let Some(rest) = folded.strip_prefix("+86") {
        rest.to_string()
    } else if let Some(rest) = folded.strip_prefix("0086") {
        rest.to_string()
    } else if let Some(rest) = folded
        .strip_prefix('+')
        .or_else(|| folded.strip_prefix("00"))
    {
        return international(rest).ok_or_else(bad);
    } else {
        folded.clone()
    };
    let from_international = national.len() != folded.len();
    mainland(&national, from_international).ok_or_else(bad)
}

fn international(digits: &str) -> Option<Phone> {
    let number = phonenumber::parse(None, format!("+{digits}")).ok()?;
    if !phonenumber::is_valid(&number) {
        return None;
    }
    Some(Phone {
        stored: number.format().mode(phonenumber::Mode::E164).to_string(),
        structure: Structure::International,
    })
}

/// Valid in China's numbering plan, and of the expected type (`10000000000` is a valid Beijing
/// landline without its trunk 0, not a mobile).
fn valid_cn(digits: &str, mobile: bool) -> bool {
    use phonenumber::Type;
    phonenumber::parse(Some(Country::CN), digits).is_ok_and(|n| {
        let kind = n.number_type(&phonenumber::metadata::DATABASE);
        phonenumber::is_valid(&n)
            && if mobile {
                matches!(kind, Type::Mobile | Type::FixedLineOrMobile)
            } else {
                !matches!(kind, Type::Mobile)
            }
    })
}

/// The digits of a mainland number without country code; `+86` numbers carry no trunk `0`.
fn mainland(digits: &str, from_international: bool) -> Option<Phone> {
    let n = digits.len();
    let first = digits.chars().next()?;
    if first == '1' && n == 11 {
        return valid_cn(digits, true).then(|| Phone {
            stored: digits.to_string(),
            structure: Structure::Mobile,
        });
    }
    // a landline: with its trunk 0 domestically, without it after +86
    let with_trunk = if first == '0' {
        Some(digits.to_string())
    } else if from_international && (9..=11).contains(&n) {
        Some(format!("0{digits}"))
    } else {
        None
    };
    if let Some(full) = with_trunk {
        if !(10..=12).contains(&full.len()) || !valid_cn(&full, false) {
            return None;
        }
        let area = if full.starts_with("010") || full.starts_with("02") {
            3
        } else {
            4
        };
        return Some(Phone {
            stored: format!("{}-{}", &full[..area], &full[area..]),
            structure: Structure::Landline { area_digits: area },
        });
    }
    if from_international {
        return None;
    }
    let structure = match (first, n) {
        ('2'..='9', 7..=8) => Structure::Local,
        ('1' | '9', 3..=6) => Structure::Service,
        ('4' | '8', 10) if digits.starts_with("400") || digits.starts_with("800") => {
            Structure::Service
        }
        _ => return None,
    };
    Some(Phone {
        stored: digits.to_string(),
        structure,
    })
}

/// The structure of a stored value, without libphonenumber (it was validated when stored).
pub fn structure_of(stored: &str) -> Structure {
    let digits: usize = stored.chars().filter(char::is_ascii_digit).count();
    let all_digits = stored.chars().all(|c| c.is_ascii_digit());
    if stored.starts_with('+') {
        Structure::International
    } else if let Some((area, rest)) = stored.split_once('-') {
        let ok = area.starts_with('0')
            && area.chars().all(|c| c.is_ascii_digit())
            && rest.chars().all(|c| c.is_ascii_digit());
        if ok {
            Structure::Landline {
                area_digits: area.len(),
            }
        } else {
            Structure::Unknown
        }
    } else if all_digits && digits == 11 && stored.starts_with('1') {
        Structure::Mobile
    } else if all_digits && (7..=8).contains(&digits) {
        Structure::Local
    } else if all_digits && digits <= 10 {
        Structure::Service
    } else {
        Structure::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_mobile_forms() {
        for raw in [
            "13812345678",
            "138 1234 5678",
            "+86 138-1234-5678",
            "0086 13812345678",
            "１３８１２３４５６７８",
            "(+86) 138.1234.5678",
        ] {
            let p = parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(p.as_str(), "13812345678", "{raw}");
            assert_eq!(p.structure(), Structure::Mobile);
        }
    }

    #[test]
    fn normalises_landlines_with_area_code() {
        assert_eq!(
            parse("0536-1234567").map(Phone::into_string),
            Ok("0536-1234567".into())
        );
        assert_eq!(
            parse("010 12345678").map(Phone::into_string),
            Ok("010-12345678".into())
        );
        assert_eq!(
            parse("+86 10 12345678").map(Phone::into_string),
            Ok("010-12345678".into())
        );
        assert_eq!(
            parse("(0536) 1234567").map(|p| p.structure()),
            Ok(Structure::Landline { area_digits: 4 })
        );
    }

    #[test]
    fn allowance_and_refusals() {
        assert_eq!(
            parse("5231234").map(|p| p.structure()),
            Ok(Structure::Local)
        );
        assert_eq!(
            parse("12345").map(|p| p.structure()),
            Ok(Structure::Service)
        );
        assert_eq!(
            parse("400-123-4567").map(Phone::into_string),
            Ok("4001234567".into())
        );
        assert_eq!(
            parse("+44 20 7946 0958").map(Phone::into_string),
            Ok("+442079460958".into())
        );
        for bad in [
            "",
            "abc",
            "12",
            "10000000000",
            "+86 1",
            "138\u{0}12345678",
            "1381234567８9",
            "1-2+3",
            &"1".repeat(60),
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn structure_of_stored_values() {
        assert_eq!(structure_of("13812345678"), Structure::Mobile);
        assert_eq!(
            structure_of("0536-1234567"),
            Structure::Landline { area_digits: 4 }
        );
        assert_eq!(structure_of("5231234"), Structure::Local);
        assert_eq!(structure_of("+442079460958"), Structure::International);
        assert_eq!(structure_of("what"), Structure::Unknown);
    }
}
