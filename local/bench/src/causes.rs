//! What the bench knows about why a figure misses its budget, from the analysis
//! behind the report (see local/bench/README.md). Shown only for figures that miss.

pub fn init(_function: &str) -> String {
    String::new()
}

pub fn zip(function: &str) -> String {
    match function {
        "items-router" => "Cause: the items router is the one function that links two large stacks together: the \
            AWS SDK for Invoke (aws-sdk-lambda, the smithy runtime, an HTTP/1.1 hyper client, rustls on ring; \
            customer-router has just that) and, for its id registry and fallback catalog, the MongoDB driver \
            (mongodb, bson, the hickory DNS resolver for `mongodb+srv` URLs, the Mozilla root certificates) plus \
            SQLite for the embedded default. \
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
        return "Cause: a page is one SQLite query for the window and, when the window is full, a second \
            `COUNT(*)` (one statement with `COUNT(*) OVER ()` was measured a third slower: SQLite then reads and \
            sorts every match). sqlx runs each SQLite connection on a worker thread of its own and hands rows back \
            over channels, on a pool of `DATABASE_MAX_CONNECTIONS` = 2; the stored JSON text is already sent \
            through unparsed (`RawValue`); and `oha` itself takes a good part of the 2 cores. Next: a larger read \
            pool for the local server."
            .into();
    }
    String::new()
}
