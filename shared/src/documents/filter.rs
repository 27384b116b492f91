//! Searches described once, translated to SQL over JSON and to a BSON filter.

use mongodb::bson::{Bson, Document as BsonDocument, doc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    /// Equal ignoring ASCII case.
    EqIgnoreCase,
    /// Contains the text, ignoring ASCII case.
    Contains,
    Gte,
    Lte,
    /// Less than the value, or absent (a record without stock has none).
    Below,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// A top-level field name: lowercase letters, digits and underscores only.
    pub field: &'static str,
    pub op: Op,
    pub value: FilterValue,
}

/// All conditions must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub conditions: Vec<Condition>,
}

/// Field names end up inside a JSON path literal, so only plain names are allowed.
pub fn is_plain_field(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Filter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn and(mut self, field: &'static str, op: Op, value: FilterValue) -> Self {
        self.push(field, op, value);
        self
    }

    pub fn push(&mut self, field: &'static str, op: Op, value: FilterValue) {
        assert!(is_plain_field(field), "filter field `{field}` is not a plain name");
        self.conditions.push(Condition { field, op, value });
    }

    /// A SQL condition over the JSON column `doc` (`TRUE` when empty) and its parameters in order.
    pub fn to_sql(&self) -> (String, Vec<FilterValue>) {
        if self.conditions.is_empty() {
            return ("1 = 1".into(), Vec::new());
        }
        let mut params = Vec::new();
        let clauses: Vec<String> = self
            .conditions
            .iter()
            .map(|c| {
                let path = format!("json_extract(doc, '$.{}')", c.field);
                params.push(c.value.clone());
                match c.op {
                    Op::Eq => format!("{path} = ?"),
                    Op::EqIgnoreCase => format!("lower({path}) = lower(?)"),
                    Op::Contains => format!("instr(lower({path}), lower(?)) > 0"),
                    Op::Gte => format!("{path} >= ?"),
                    Op::Lte => format!("{path} <= ?"),
                    Op::Below => format!("({path} IS NULL OR {path} < ?)"),
                }
            })
            .collect();
        (clauses.join(" AND "), params)
    }

    /// The same search as a MongoDB query document.
    pub fn to_bson(&self) -> BsonDocument {
        let clauses: Vec<BsonDocument> = self
            .conditions
            .iter()
            .map(|c| {
                let value = match &c.value {
                    FilterValue::Text(t) => Bson::String(t.clone()),
                    FilterValue::Integer(i) => Bson::Int64(*i),
                    FilterValue::Number(n) => Bson::Double(*n),
                    FilterValue::Bool(b) => Bson::Boolean(*b),
                };
                let text = match &c.value {
                    FilterValue::Text(t) => escape_regex(t),
                    other => escape_regex(&format!("{other:?}")),
                };
                let condition = match c.op {
                    Op::Eq => value,
                    Op::EqIgnoreCase => Bson::Document(doc! { "$regex": format!("^{text}$"), "$options": "i" }),
                    Op::Contains => Bson::Document(doc! { "$regex": text, "$options": "i" }),
                    Op::Gte => Bson::Document(doc! { "$gte": value }),
                    Op::Lte => Bson::Document(doc! { "$lte": value }),
                    Op::Below => value,
                };
                if c.op == Op::Below {
                    // `{field: null}` matches a missing field (and a null one).
                    let (mut below, mut absent) = (BsonDocument::new(), BsonDocument::new());
                    below.insert(c.field, doc! { "$lt": condition });
                    absent.insert(c.field, Bson::Null);
                    return doc! { "$or": [below, absent] };
                }
                let mut clause = BsonDocument::new();
                clause.insert(c.field, condition);
                clause
            })
            .collect();
        match clauses.len() {
            0 => BsonDocument::new(),
            1 => clauses.into_iter().next().unwrap_or_default(),
            _ => doc! { "$and": clauses },
        }
    }
}

/// Makes user text match literally inside a regular expression.
fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if "\\^$.|?*+()[]{}/".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Filter {
        Filter::new()
            .and("author", Op::Contains, FilterValue::Text("Mart".into()))
            .and("genre", Op::EqIgnoreCase, FilterValue::Text("Programming".into()))
            .and("ram_gb", Op::Gte, FilterValue::Integer(16))
            .and("price", Op::Lte, FilterValue::Integer(150000))
            .and("publication_year", Op::Eq, FilterValue::Integer(2008))
            .and("stock", Op::Below, FilterValue::Integer(1))
    }

    #[test]
    fn translates_to_sql_over_json() {
        let (sql, params) = sample().to_sql();
        assert_eq!(
            sql,
            "instr(lower(json_extract(doc, '$.author')), lower(?)) > 0 AND lower(json_extract(doc, '$.genre')) = lower(?) \
             AND json_extract(doc, '$.ram_gb') >= ? AND json_extract(doc, '$.price') <= ? \
             AND json_extract(doc, '$.publication_year') = ? \
             AND (json_extract(doc, '$.stock') IS NULL OR json_extract(doc, '$.stock') < ?)"
        );
        assert_eq!(params.len(), 6);
        assert_eq!(params[0], FilterValue::Text("Mart".into()));
        assert_eq!(Filter::new().to_sql(), ("1 = 1".to_string(), vec![]));
    }

    #[test]
    fn translates_to_bson() {
        let bson = sample().to_bson();
        let expected = doc! { "$and": [
            { "author": { "$regex": "Mart", "$options": "i" } },
            { "genre": { "$regex": "^Programming$", "$options": "i" } },
            { "ram_gb": { "$gte": 16_i64 } },
            { "price": { "$lte": 150000_i64 } },
            { "publication_year": 2008_i64 },
            { "$or": [{ "stock": { "$lt": 1_i64 } }, { "stock": null }] },
        ]};
        assert_eq!(bson, expected);
        let single = Filter::new().and("size", Op::Eq, FilterValue::Text("M".into())).to_bson();
        assert_eq!(single, doc! { "size": "M" });
        assert_eq!(Filter::new().to_bson(), doc! {});
    }

    #[test]
    fn user_text_is_literal_in_regexes() {
        let bson = Filter::new().and("name", Op::Contains, FilterValue::Text("C++ (3rd.)".into())).to_bson();
        assert_eq!(bson, doc! { "name": { "$regex": "C\\+\\+ \\(3rd\\.\\)", "$options": "i" } });
    }

    #[test]
    #[should_panic]
    fn field_names_must_be_plain() {
        let _ = Filter::new().and("a') OR 1=1 --", Op::Eq, FilterValue::Bool(true));
    }
}
