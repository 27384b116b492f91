//! The book service: the shared catalog with book attributes, ISBN validation
//! and search by author, genre, publisher and year.

mod isbn;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::FieldErrors;
use shared::catalog::{ItemKind, SearchParam, check_optional_text, check_range, check_required_text};
use shared::documents::Op;
use utoipa::ToSchema;

pub struct Book;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BookAttributes {
    #[schema(schema_with = shared::openapi::text::<200>)]
    pub author: String,
    #[serde(default)]
    #[schema(schema_with = isbn_schema)]
    pub isbn: Option<String>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<200>)]
    pub publisher: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1450, maximum = 2100)]
    pub publication_year: Option<i32>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<100>)]
    pub genre: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000)]
    pub pages: Option<i32>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<50>)]
    pub language: Option<String>,
}

const LATEST_YEAR: i32 = 2100;

/// An ISBN-10 or ISBN-13's shape, hyphens and spaces allowed (the check digit is checked in code).
const ISBN_PATTERN: &str = r"^[ -]*(?:[0-9][ -]*){9}[0-9Xx][ -]*$|^[ -]*9[ -]*7[ -]*[89][ -]*(?:[0-9][ -]*){10}$";

fn isbn_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(shared::openapi::nullable(utoipa::openapi::schema::Type::String))
        .pattern(Some(ISBN_PATTERN))
        .description(Some(
            "ISBN-10 or ISBN-13 with its check digit right; hyphens and spaces are accepted, and it is \
             stored as its ISBN-13. No two books share one (409).",
        ))
        .into()
}

impl ItemKind for Book {
    const TYPE: &'static str = "book";
    const PLURAL: &'static str = "books";
    const TITLE: &'static str = "Book";
    type Attributes = BookAttributes;

    fn validate(book: &mut BookAttributes, errors: &mut FieldErrors) {
        book.author = book.author.trim().to_string();
        check_required_text(errors, "author", &book.author, 200);
        if let Some(raw) = &book.isbn {
            match isbn::normalize(raw) {
                Ok(normalized) => book.isbn = Some(normalized),
                Err(why) => errors.add("isbn", why),
            }
        }
        check_optional_text(errors, "publisher", book.publisher.as_deref(), 200);
        check_optional_text(errors, "genre", book.genre.as_deref(), 100);
        check_optional_text(errors, "language", book.language.as_deref(), 50);
        if let Some(year) = book.publication_year {
            check_range(errors, "publication_year", year, 1450, LATEST_YEAR);
        }
        if let Some(pages) = book.pages {
            check_range(errors, "pages", pages, 1, 100_000);
        }
    }

    const UNIQUE: &'static [&'static str] = &["isbn"];

    fn search_params() -> &'static [SearchParam] {
        const PARAMS: &[SearchParam] = &[
            SearchParam::text("author", "author", Op::Contains, "Text in the author's name"),
            SearchParam::text("genre", "genre", Op::EqIgnoreCase, "Genre (any case)"),
            SearchParam::text("publisher", "publisher", Op::Contains, "Text in the publisher"),
            SearchParam::integer("year", "publication_year", Op::Eq, (1450, LATEST_YEAR as i64), "Publication year"),
            SearchParam::normalized(
                "isbn",
                "isbn",
                Op::Eq,
                (isbn::search_form, ISBN_PATTERN),
                "ISBN-10 or ISBN-13, hyphens allowed: the book with that ISBN",
            ),
        ];
        PARAMS
    }

    fn example() -> Value {
        json!({ "name": "Clean Code", "type": "book", "author": "Robert Martin", "isbn": "9780132350884" })
    }
}
