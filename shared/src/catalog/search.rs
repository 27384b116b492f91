//! Search parameters as data: each names a query parameter, the field it filters,
//! how it compares and what values it takes. The same table parses requests,
//! builds the store filter and documents the parameters.

use crate::documents::{Filter, FilterValue, Op};
use crate::extract::QueryParams;

#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    Text,
    Integer {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
        max: f64,
    },
    /// `true` keeps records whose field is at least 1 (`in_stock`); `false` adds no condition.
    AtLeastOne,
}

#[derive(Debug, Clone, Copy)]
pub struct SearchParam {
    pub name: &'static str,
    pub field: &'static str,
    pub op: Op,
    pub kind: ParamKind,
    pub description: &'static str,
}

impl SearchParam {
    pub const fn text(name: &'static str, field: &'static str, op: Op, description: &'static str) -> Self {
        Self { name, field, op, kind: ParamKind::Text, description }
    }

    pub const fn integer(
        name: &'static str,
        field: &'static str,
        op: Op,
        range: (i64, i64),
        description: &'static str,
    ) -> Self {
        Self { name, field, op, kind: ParamKind::Integer { min: range.0, max: range.1 }, description }
    }

    pub const fn number(
        name: &'static str,
        field: &'static str,
        op: Op,
        range: (f64, f64),
        description: &'static str,
    ) -> Self {
        Self { name, field, op, kind: ParamKind::Number { min: range.0, max: range.1 }, description }
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
            description: "Only items with stock",
        },
    ];
    PARAMS
}

pub fn filter_from_params<'a>(params: &mut QueryParams, table: impl Iterator<Item = &'a SearchParam>) -> Filter {
    let mut filter = Filter::new();
    for p in table {
        let value = match p.kind {
            ParamKind::Text => params.text(p.name, TEXT_MAX).map(FilterValue::Text),
            ParamKind::Integer { min, max } => params.integer(p.name, min, max).map(FilterValue::Integer),
            ParamKind::Number { min, max } => params.number(p.name, min, max).map(FilterValue::Number),
            ParamKind::AtLeastOne => params.boolean(p.name).filter(|b| *b).map(|_| FilterValue::Integer(1)),
        };
        if let Some(value) = value {
            filter.push(p.field, p.op, value);
        }
    }
    filter
}
