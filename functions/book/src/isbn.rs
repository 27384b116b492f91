//! ISBN-10 and ISBN-13 check digits.

/// Why a text is not an ISBN.
enum Invalid {
    /// Not shaped like one (what the API document's pattern also says).
    Shape(&'static str),
    /// Shaped like one, with a check digit that does not match.
    CheckDigit(&'static str),
}

/// The ISBN-13 of an ISBN-10 or ISBN-13, without hyphens or spaces, if its check
/// digit is right: one edition has one stored form, however it was written.
pub fn normalize(raw: &str) -> Result<String, &'static str> {
    match checked(raw) {
        Ok(isbn) => Ok(isbn_13(isbn)),
        Err(Invalid::Shape(why) | Invalid::CheckDigit(why)) => Err(why),
    }
}

/// What an `isbn` search looks for: [`normalize`]'s ISBN-13, or for an ISBN
/// whose check digit is wrong, its digits, which no stored book has. Only a
/// value that is not shaped like an ISBN is refused: the API document gives
/// the shape, and a check digit is beyond what it can say.
pub fn search_form(raw: &str) -> Result<String, &'static str> {
    match checked(raw) {
        Ok(isbn) => Ok(isbn_13(isbn)),
        Err(Invalid::CheckDigit(_)) => Ok(compact(raw)),
        Err(Invalid::Shape(why)) => Err(why),
    }
}

fn isbn_13(checked: String) -> String {
    if checked.len() == 13 {
        return checked;
    }
    let body = format!("978{}", &checked[..9]);
    format!("{body}{}", (10 - weighted_13(&body) % 10) % 10)
}

/// The ISBN-13 weighted sum (1, 3, 1, 3, ...) of ASCII digits.
fn weighted_13(digits: &str) -> u32 {
    digits.bytes().enumerate().map(|(i, b)| (b - b'0') as u32 * if i % 2 == 0 { 1 } else { 3 }).sum()
}

fn compact(raw: &str) -> String {
    raw.chars().filter(|c| *c != '-' && *c != ' ').collect::<String>().to_ascii_uppercase()
}

/// The ISBN without hyphens or spaces (a check digit `x` as `X`), if its check digit is right.
fn checked(raw: &str) -> Result<String, Invalid> {
    let isbn = compact(raw);
    match isbn.len() {
        10 => {
            let mut sum = 0;
            for (i, c) in isbn.chars().enumerate() {
                let digit = match c {
                    '0'..='9' => c as u32 - '0' as u32,
                    'X' if i == 9 => 10,
                    _ => return Err(Invalid::Shape("an ISBN-10 is nine digits and a check digit (0-9 or X)")),
                };
                sum += digit * (10 - i as u32);
            }
            if sum.is_multiple_of(11) {
                Ok(isbn)
            } else {
                Err(Invalid::CheckDigit("the ISBN-10 check digit does not match"))
            }
        }
        13 => {
            if !isbn.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Invalid::Shape("an ISBN-13 is thirteen digits"));
            }
            if !(isbn.starts_with("978") || isbn.starts_with("979")) {
                return Err(Invalid::Shape("an ISBN-13 starts with 978 or 979"));
            }
            if weighted_13(&isbn).is_multiple_of(10) {
                Ok(isbn)
            } else {
                Err(Invalid::CheckDigit("the ISBN-13 check digit does not match"))
            }
        }
        _ => Err(Invalid::Shape("an ISBN has 10 or 13 digits (hyphens allowed)")),
    }
}

#[cfg(test)]
mod tests {
    use super::{normalize, search_form};

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
    fn searches_take_a_wrong_check_digit_as_a_value_no_book_has() {
        assert_eq!(search_form("0-13-235088-2").unwrap(), "9780132350884");
        assert_eq!(search_form("978-0-13-235088-5").unwrap(), "9780132350885");
        assert_eq!(search_form("0132350883").unwrap(), "0132350883");
        for bad in ["12345", "978013235088X", "1234567890123", "X132350882"] {
            assert!(search_form(bad).is_err(), "{bad}");
        }
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
