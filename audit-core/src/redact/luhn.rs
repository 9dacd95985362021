//! Payment card numbers: the Luhn checksum and the issuer prefixes that make a
//! digit run worth redacting.
//!
//! A random 16-digit number passes Luhn one time in ten, so the checksum alone
//! would redact many order numbers and ids. Requiring a known issuer prefix
//! (IIN) with a length that issuer uses cuts that to a few per thousand.

/// True if `digits` (ASCII digits only) passes the Luhn mod-10 check.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum % 10 == 0
}

/// True if `text` (digits, optionally grouped by single spaces or dashes) is a
/// plausible card number: 13 to 19 digits, a known issuer prefix with one of
/// its lengths, and a valid Luhn checksum.
pub fn is_card_number(text: &str) -> bool {
    let mut digits = [0u8; 19];
    let mut n = 0;
    for b in text.bytes() {
        match b {
            b'0'..=b'9' => {
                if n == digits.len() {
                    return false;
                }
                digits[n] = b;
                n += 1;
            }
            b' ' | b'-' => {}
            _ => return false,
        }
    }
    let digits = &digits[..n];
    (13..=19).contains(&n) && issuer_accepts(digits) && luhn_valid(digits)
}

/// Whether a known card issuer uses this prefix with this length.
fn issuer_accepts(d: &[u8]) -> bool {
    let n = d.len();
    let prefix = |k: usize| -> u32 {
        d[..k]
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    let p2 = prefix(2);
    let p3 = prefix(3);
    let p4 = prefix(4);
    let p6 = prefix(6);
    match d[0] {
        b'4' => matches!(n, 13 | 16 | 19),                    // Visa
        b'5' => (51..=55).contains(&p2) && n == 16,           // Mastercard
        b'2' => (222_100..=272_099).contains(&p6) && n == 16, // Mastercard 2-series
        b'3' if p2 == 34 || p2 == 37 => n == 15,              // Amex
        b'3' if (3528..=3589).contains(&p4) => (16..=19).contains(&n), // JCB
        b'3' if p2 == 36 || p2 == 38 || p2 == 39 => (14..=19).contains(&n), // Diners
        b'3' => (300..=305).contains(&p3) && (14..=19).contains(&n), // Diners
        b'6' if p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) => (16..=19).contains(&n), // Discover
        b'6' => p2 == 62 && (16..=19).contains(&n), // UnionPay
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_test_numbers_pass() {
        for n in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "5555-5555-5555-4444",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "2223003122003222",
        ] {
            assert!(is_card_number(n), "{n}");
        }
    }

    #[test]
    fn wrong_checksum_prefix_or_length_fails() {
        for n in [
            "4111111111111112",     // checksum
            "1234567812345670",     // Luhn-valid, no issuer starts with 1
            "9999999999999995",     // Luhn-valid, no issuer starts with 9
            "411111111111111",      // Visa prefix, 15 digits
            "4111x111111111111",    // not a separator
            "41111111111111111111", // 20 digits
        ] {
            assert!(!is_card_number(n), "{n}");
        }
    }

    #[test]
    fn luhn_of_single_digits() {
        assert!(luhn_valid(b"0"));
        assert!(!luhn_valid(b"1"));
        assert!(!luhn_valid(b""));
        assert!(!luhn_valid(b"12a"));
    }
}
