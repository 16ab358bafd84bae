//! Masking of personal data (docs/domain.md, "Privacy"; docs/security.md): every answer shows
//! name, phone, caller number, contact address and open id masked; the full values come only
//! from an explicit, logged reveal. A `report` never reveals the reporter to departments.
//!
//! Phone numbers are masked by their structure and never show more than half of their digits
//! (counting every digit, the trunk `0` and area code included):
//! - mobile `13812345678` → `1******5678` (the last four, by which people confirm a number);
//! - landline `0536-1234567` → `0536-******7`, `010-12345678` → `010-******78` (area code first);
//! - local, service and unknown numbers: at most the last two digits, `5231234` → `*****34`;
//! - international: `+442079460958` → `+**********58`.

use crate::phone::{structure_of, Structure};

/// The digits shown at the head and at the tail, by priority, before the half-of-the-digits cap.
struct Keep {
    head: usize,
    tail: usize,
    tail_first: bool,
}

fn keep_for(structure: Structure) -> Keep {
    match structure {
        Structure::Mobile => Keep {
            head: 3,
            tail: 4,
            tail_first: true,
        },
        Structure::Landline { area_digits } => Keep {
            head: area_digits,
            tail: 4,
            tail_first: false,
        },
        Structure::Local | Structure::Service | Structure::International | Structure::Unknown => {
            Keep {
                head: 0,
                tail: 2,
                tail_first: true,
            }
        }
    }
}

/// Masks a phone number by its structure; non-digits other than `+` and the area-code dash are
/// dropped, so nothing but the kept digits can leak.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    if n == 0 {
        return "****".into();
    }
    let structure = structure_of(phone);
    let keep = keep_for(structure);
    let budget = n / 2;
    let (head, tail) = if keep.tail_first {
        let tail = keep.tail.min(budget);
        (keep.head.min(budget - tail), tail)
    } else {
        let head = keep.head.min(budget);
        (head, keep.tail.min(budget - head))
    };
    let mut out = String::with_capacity(n + 2);
    if structure == Structure::International {
        out.push('+');
    }
    for (i, d) in digits.iter().enumerate() {
        if let Structure::Landline { area_digits } = structure {
            if i == area_digits {
                out.push('-');
            }
        }
        out.push(if i < head || i >= n - tail { *d } else { '*' });
    }
    out
}

/// `张三丰` → `张**`.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

/// Keeps the first third of a contact address (at most 8 characters): the town stays readable,
/// the house number does not.
pub fn mask_address(address: &str) -> String {
    let chars: Vec<char> = address.chars().collect();
    let keep = (chars.len() / 3).min(8);
    let head: String = chars[..keep].iter().collect();
    format!("{head}****")
}

/// Opaque identifiers (the WeChat open id): the first four characters and a mask.
pub fn mask_id(id: &str) -> String {
    let head: String = id.chars().take(4).collect();
    format!("{head}****")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shown_digits(masked: &str) -> usize {
        masked.chars().filter(char::is_ascii_digit).count()
    }

    #[test]
    fn masks_by_structure() {
        assert_eq!(mask_phone("13812345678"), "1******5678");
        assert_eq!(mask_phone("0536-1234567"), "0536-******7");
        assert_eq!(mask_phone("010-12345678"), "010-******78");
        assert_eq!(mask_phone("5231234"), "*****34");
        assert_eq!(mask_phone("12345"), "***45");
        assert_eq!(mask_phone("+442079460958"), "+**********58");
        assert_eq!(mask_phone("no digits"), "****");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(
            mask_address("寿光市圣城街道幸福小区3号楼2单元"),
            "寿光市圣城****"
        );
        assert_eq!(mask_id("oABCdef123456"), "oABC****");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Whatever the input, at most half of its digits are shown, and no digit appears that
        /// the input did not have at that place in its digit sequence.
        #[test]
        fn never_shows_more_than_half_of_the_digits(input in "\\PC{0,40}") {
            let masked = mask_phone(&input);
            let total = input.chars().filter(char::is_ascii_digit).count();
            prop_assert!(shown_digits(&masked) * 2 <= total, "{input:?} -> {masked:?}");
        }

        #[test]
        fn numbers_of_every_shape(digits in "[0-9]{0,24}", sep in prop::sample::select(vec!["", "-", "+"])) {
            let input = match sep {
                "-" if digits.len() > 4 => format!("{}-{}", &digits[..4], &digits[4..]),
                "+" => format!("+{digits}"),
                _ => digits.clone(),
            };
            let masked = mask_phone(&input);
            prop_assert!(shown_digits(&masked) * 2 <= digits.len(), "{input:?} -> {masked:?}");
        }
    }
}
