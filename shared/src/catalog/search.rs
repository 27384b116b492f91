//! Search parameters as data: each names a query parameter, the field it filters,
//! how it compares and what values it takes. The same table parses requests,
//! builds the store filter and documents the parameters.

use crate::documents::{Filter, FilterValue, Op};
use crate::extract::QueryParams;

/// The stored form of a value, or why it has none.
pub type Normalize = fn(&str) -> Result<String, &'static str>;

#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    Text,
    /// Text put in the stored form first, as a create stores it (an ISBN without
    /// hyphens); a value that has no stored form is a 400 with the reason.
    Normalized(Normalize),
    Integer {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
        max: f64,
    },
    /// `true` keeps records whose field is at least 1 (`in_stock`); `false` those
    /// whose field is below 1 or absent.
    AtLeastOne,
}

#[derive(Debug, Clone, Copy)]
pub struct SearchParam {
    pub name: &'static str,
    pub field: &'static str,
    pub op: Op,
    pub kind: ParamKind,
    pub description: &'static str,
    /// What the API document says a value looks like, when it can.
    pub pattern: Option<&'static str>,
}

impl SearchParam {
    pub const fn text(name: &'static str, field: &'static str, op: Op, description: &'static str) -> Self {
        Self { name, field, op, kind: ParamKind::Text, description, pattern: None }
    }

    /// A text parameter `normalize` puts in the stored form; `pattern` is the shape
    /// the API document gives (a check digit is beyond what a pattern says).
    pub const fn normalized(
        name: &'static str,
        field: &'static str,
        op: Op,
        (normalize, pattern): (Normalize, &'static str),
        description: &'static str,
    ) -> Self {
        Self { name, field, op, kind: ParamKind::Normalized(normalize), description, pattern: Some(pattern) }
    }

    pub const fn integer(
        name: &'static str,
        field: &'static str,
        op: Op,
        range: (i64, i64),
        description: &'static str,
    ) -> Self {
        Self { name, field, op, kind: ParamKind::Integer { min: range.0, max: range.1 }, description, pattern: None }
    }

    pub const fn number(
        name: &'static str,
        field: &'static str,
        op: Op,
        range: (f64, f64),
        description: &'static str,
    ) -> Self {
        Self { name, field, op, kind: ParamKind::Number { min: range.0, max: range.1 }, description, pattern: None }
    }
}

pub(crate) const TEXT_MAX: usize = 100;

/// Parameters every item type accepts.
pub fn common_search_params() -> &'static [SearchParam] {
    const PARAMS: &[SearchParam] = &[
        SearchParam::text("q", "name", Op::Contains, "Text in the name (any case)"),
        SearchParam::integer(
            "min_price",
            "price",
            Op::Gte,
            (0, crate::money::MAX_AMOUNT_MINOR),
            "Lowest price, in minor units",
        ),
        SearchParam::integer(
            "max_price",
            "price",
            Op::Lte,
            (0, crate::money::MAX_AMOUNT_MINOR),
            "Highest price, in minor units",
        ),
        SearchParam {
            name: "in_stock",
            field: "stock",
            op: Op::Gte,
            kind: ParamKind::AtLeastOne,
            description: "true: only items in stock; false: only items out of stock",
            pattern: None,
        },
    ];
    PARAMS
}

pub fn filter_from_params<'a>(params: &mut QueryParams, table: impl Iterator<Item = &'a SearchParam>) -> Filter {
    let mut filter = Filter::new();
    for p in table {
        let (op, value) = match p.kind {
            ParamKind::Text => (p.op, params.text(p.name, TEXT_MAX).map(FilterValue::Text)),
            ParamKind::Normalized(normalize) => {
                let value = params.text(p.name, TEXT_MAX).and_then(|raw| match normalize(&raw) {
                    Ok(stored) => Some(FilterValue::Text(stored)),
                    Err(why) => {
                        params.add_error(p.name, why);
                        None
                    }
                });
                (p.op, value)
            }
            ParamKind::Integer { min, max } => (p.op, params.integer(p.name, min, max).map(FilterValue::Integer)),
            ParamKind::Number { min, max } => (p.op, params.number(p.name, min, max).map(FilterValue::Number)),
            ParamKind::AtLeastOne => match params.boolean(p.name) {
                Some(true) => (p.op, Some(FilterValue::Integer(1))),
                Some(false) => (Op::Below, Some(FilterValue::Integer(1))),
                None => (p.op, None),
            },
        };
        if let Some(value) = value {
            filter.push(p.field, op, value);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(query: &str) -> (Filter, Result<(), crate::AppError>) {
        let mut params = crate::extract::QueryPairs::parse(query).unwrap().into_params();
        let filter = filter_from_params(&mut params, common_search_params().iter());
        (filter, params.finish())
    }

    #[test]
    fn in_stock_false_asks_for_items_out_of_stock() {
        let (in_stock, _) = filter("in_stock=true");
        assert_eq!(in_stock, Filter::new().and("stock", Op::Gte, FilterValue::Integer(1)));
        let (out_of_stock, _) = filter("in_stock=false");
        assert_eq!(out_of_stock, Filter::new().and("stock", Op::Below, FilterValue::Integer(1)));
        assert_eq!(filter("").0, Filter::new());
        assert!(filter("in_stock=maybe").1.is_err());
    }
}
