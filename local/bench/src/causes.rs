//! What the bench knows about why a figure misses its budget, from the analysis
//! behind the report (see local/bench/README.md). Shown only for figures that miss.

pub fn init(_function: &str) -> String {
    String::new()
}

pub fn zip(function: &str) -> String {
    match function {
        "items-router" => "Cause: the items router is the one function that links two large stacks together: the \
            AWS SDK for Invoke (aws-sdk-lambda, the smithy runtime, hyper with h2, rustls; customer-router has just \
            that) and, for its id registry and fallback catalog, the MongoDB driver (mongodb, bson, the hickory DNS \
            resolver for `mongodb+srv` URLs, the Mozilla root certificates) plus SQLite for the embedded default. \
            What is already cut is listed under the table. Next: the registry and fallback catalog in a function \
            of their own, so that the router links no database."
            .into(),
        _ => String::new(),
    }
}

pub fn router_hop() -> String {
    String::new()
}

pub fn load(scenario: &str) -> String {
    if scenario.contains("/api/books/`") {
        return "Cause: each page is two SQLite queries (`COUNT(*)` and the page, `ORDER BY id DESC` with \
            `json_extract` filters) through sqlx, which runs every SQLite connection on a worker thread of its own \
            and hands rows back over channels, on a pool of `DATABASE_MAX_CONNECTIONS` = 2; every document is \
            parsed from JSON text into a `serde_json::Value` and serialised again; and `oha` itself takes a good \
            part of the 2 cores. Proposed fix: one query with `COUNT(*) OVER ()`, send the stored JSON text \
            through unparsed (`RawValue`), and a larger read pool for the local server."
            .into();
    }
    String::new()
}
