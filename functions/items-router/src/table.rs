//! The type → function table: which function serves which item type, at which path.
//! It is configuration (`ITEM_SERVICES`), so a new item type is a new function and
//! one more entry.

use shared::config::ConfigError;

pub const DEFAULT_SERVICES: &str =
    "book=book@/api/books,laptop=laptop@/api/laptops,mobile=mobile@/api/mobiles,clothes=clothes@/api/clothes";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemService {
    pub item_type: String,
    /// The function to invoke: a binary name locally, a function name or ARN deployed.
    pub function: String,
    /// The function's own route for this type, e.g. `/api/books`.
    pub base_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    Service(&'a ItemService),
    /// A type with no function of its own, kept in the router's fallback catalog.
    Fallback(&'a str),
}

#[derive(Debug, Clone)]
pub struct ItemTable {
    services: Vec<ItemService>,
    fallback: Vec<String>,
}

fn is_type_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 40 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

impl ItemTable {
    /// Parses `type=function@/path,...` and a comma list of fallback types.
    pub fn parse(services: &str, fallback: &str) -> Result<Self, ConfigError> {
        let invalid = |why: String| ConfigError::Invalid { name: "ITEM_SERVICES".into(), why };
        let mut table = ItemTable { services: Vec::new(), fallback: Vec::new() };
        for entry in services.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (item_type, target) =
                entry.split_once('=').ok_or_else(|| invalid(format!("`{entry}` is not type=function@/path")))?;
            let (function, base_path) =
                target.split_once('@').ok_or_else(|| invalid(format!("`{entry}` has no @/path")))?;
            let (item_type, function, base_path) =
                (item_type.trim(), function.trim(), base_path.trim().trim_end_matches('/'));
            if !is_type_name(item_type) || function.is_empty() || !base_path.starts_with('/') {
                return Err(invalid(format!("`{entry}` is not type=function@/path")));
            }
            table.services.push(ItemService {
                item_type: item_type.into(),
                function: function.into(),
                base_path: base_path.into(),
            });
        }
        for item_type in fallback.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !is_type_name(item_type) {
                return Err(ConfigError::Invalid {
                    name: "FALLBACK_ITEM_TYPES".into(),
                    why: format!("`{item_type}` is not a type name"),
                });
            }
            table.fallback.push(item_type.into());
        }
        let mut names: Vec<&str> = table.types().collect();
        names.sort();
        names.dedup();
        if names.len() != table.services.len() + table.fallback.len() {
            return Err(invalid("a type is listed twice".into()));
        }
        if names.is_empty() {
            return Err(invalid("no item types are configured".into()));
        }
        Ok(table)
    }

    pub fn route(&self, item_type: &str) -> Option<Route<'_>> {
        if let Some(service) = self.services.iter().find(|s| s.item_type == item_type) {
            return Some(Route::Service(service));
        }
        self.fallback.iter().find(|t| *t == item_type).map(|t| Route::Fallback(t))
    }

    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|s| s.item_type.as_str()).chain(self.fallback.iter().map(String::as_str))
    }

    pub fn services(&self) -> &[ItemService] {
        &self.services
    }

    pub fn fallback_types(&self) -> &[String] {
        &self.fallback
    }

    /// `book, laptop, mobile, clothes` for error messages.
    pub fn supported(&self) -> String {
        self.types().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_table() {
        let table = ItemTable::parse(DEFAULT_SERVICES, "gift-card").unwrap();
        assert_eq!(table.supported(), "book, laptop, mobile, clothes, gift-card");
        match table.route("clothes") {
            Some(Route::Service(s)) => {
                assert_eq!((s.function.as_str(), s.base_path.as_str()), ("clothes", "/api/clothes"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(table.route("gift-card"), Some(Route::Fallback("gift-card")));
        assert_eq!(table.route("toy"), None);
    }

    #[test]
    fn deployed_function_names_and_arns_work() {
        let table = ItemTable::parse("book=arn:aws:lambda:eu-west-1:123:function:shop-Book-1@/api/books/", "").unwrap();
        let Some(Route::Service(s)) = table.route("book") else { panic!() };
        assert_eq!(s.function, "arn:aws:lambda:eu-west-1:123:function:shop-Book-1");
        assert_eq!(s.base_path, "/api/books");
    }

    #[test]
    fn rejects_malformed_tables() {
        for bad in ["book", "book=book", "Book=book@/api/books", "book=book@/a,book=x@/b", "", "book=@/api/books"] {
            assert!(ItemTable::parse(bad, "").is_err(), "{bad}");
        }
        assert!(ItemTable::parse(DEFAULT_SERVICES, "book").is_err());
    }
}
