//! ISBN-10 and ISBN-13 check digits.

/// The ISBN-13 of an ISBN-10 or ISBN-13, without hyphens or spaces, if its check
/// digit is right: one edition has one stored form, however it was written.
pub fn normalize(raw: &str) -> Result<String, &'static str> {
    let isbn = checked(raw)?;
    if isbn.len() == 13 {
        return Ok(isbn);
    }
    let body = format!("978{}", &isbn[..9]);
    let sum: u32 = body.bytes().enumerate().map(|(i, b)| (b - b'0') as u32 * if i % 2 == 0 { 1 } else { 3 }).sum();
    Ok(format!("{body}{}", (10 - sum % 10) % 10))
}

/// The ISBN without hyphens or spaces (a check digit `x` as `X`), if its check digit is right.
fn checked(raw: &str) -> Result<String, &'static str> {
    let isbn: String = raw.chars().filter(|c| *c != '-' && *c != ' ').collect::<String>().to_ascii_uppercase();
    match isbn.len() {
        10 => {
            let mut sum = 0;
            for (i, c) in isbn.chars().enumerate() {
                let digit = match c {
                    '0'..='9' => c as u32 - '0' as u32,
                    'X' if i == 9 => 10,
                    _ => return Err("an ISBN-10 is nine digits and a check digit (0-9 or X)"),
                };
                sum += digit * (10 - i as u32);
            }
            if sum.is_multiple_of(11) { Ok(isbn) } else { Err("the ISBN-10 check digit does not match") }
        }
        13 => {
            if !isbn.bytes().all(|b| b.is_ascii_digit()) {
                return Err("an ISBN-13 is thirteen digits");
            }
            if !(isbn.starts_with("978") || isbn.starts_with("979")) {
                return Err("an ISBN-13 starts with 978 or 979");
            }
            let sum: u32 =
                isbn.bytes().enumerate().map(|(i, b)| (b - b'0') as u32 * if i % 2 == 0 { 1 } else { 3 }).sum();
            if sum.is_multiple_of(10) { Ok(isbn) } else { Err("the ISBN-13 check digit does not match") }
        }
        _ => Err("an ISBN has 10 or 13 digits (hyphens allowed)"),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn accepts_valid_isbns_and_strips_hyphens() {
        assert_eq!(normalize("9780132350884").unwrap(), "9780132350884");
        assert_eq!(normalize("978-0-13-235088-4").unwrap(), "9780132350884");
        assert_eq!(normalize(" 978 0 13 235088 4 ").unwrap(), "9780132350884");
    }

    #[test]
    fn isbn_10s_become_the_same_editions_isbn_13() {
        assert_eq!(normalize("0-13-235088-2").unwrap(), "9780132350884");
        assert_eq!(normalize("080442957x").unwrap(), "9780804429573");
        assert_eq!(normalize("080442957X").unwrap(), "9780804429573");
        assert_eq!(normalize("0-8044-2957-X").unwrap(), "9780804429573");
    }

    #[test]
    fn rejects_bad_check_digits_and_shapes() {
        for bad in
            ["9780132350885", "0132350883", "12345", "97801323508841", "978013235088X", "1234567890123", "X132350882"]
        {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }
}
