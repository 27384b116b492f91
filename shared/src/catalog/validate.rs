//! Small checks that add a message per failing field.

use crate::error::FieldErrors;

pub fn check_required_text(errors: &mut FieldErrors, field: &str, value: &str, max_chars: usize) {
    if value.trim().is_empty() {
        errors.add(field, "may not be blank");
    } else {
        check_optional_text(errors, field, Some(value), max_chars);
    }
}

pub fn check_optional_text(errors: &mut FieldErrors, field: &str, value: Option<&str>, max_chars: usize) {
    if let Some(value) = value {
        if value.trim().is_empty() {
            errors.add(field, "may not be blank; leave it out instead");
        } else if value.chars().count() > max_chars {
            errors.add(field, format!("at most {max_chars} characters"));
        } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            errors.add(field, "may not contain control characters");
        }
    }
}

pub fn check_range<T: PartialOrd + std::fmt::Display + Copy>(
    errors: &mut FieldErrors,
    field: &str,
    value: T,
    min: T,
    max: T,
) {
    if value < min || value > max {
        errors.add(field, format!("must be between {min} and {max}"));
    }
}
