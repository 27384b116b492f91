//! Lists in the Django REST framework shape the original clients know:
//! `{"count", "next", "previous", "results"}` with `page` and `page_size`, the
//! only paging parameters of the API (one cap: 1 to 100 entries).
//!
//! `offset` and `limit` are how the items router asks each item function, on an
//! internal route, for the window a merged page needs; public lists refuse them.

use http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::AppError;
use crate::extract::QueryParams;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;
/// The furthest `offset + limit` may reach, which bounds the work of one request.
pub const MAX_WINDOW: u64 = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStyle {
    Numbered { page: u64, page_size: u64 },
    Window,
}

/// Which slice of a list a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u64,
    pub style: PageStyle,
}

impl PageRequest {
    pub fn first(page_size: u64) -> Self {
        Self { offset: 0, limit: page_size, style: PageStyle::Numbered { page: 1, page_size } }
    }

    /// Reads `page` and `page_size`, the paging parameters of every public list.
    pub fn from_params(params: &mut QueryParams) -> Option<Self> {
        let page = params.integer("page", 1, 1_000_000);
        let page_size = params.integer("page_size", 1, MAX_PAGE_SIZE as i64);
        let page = page.unwrap_or(1) as u64;
        let page_size = page_size.map(|s| s as u64).unwrap_or(DEFAULT_PAGE_SIZE);
        Some(Self { offset: (page - 1) * page_size, limit: page_size, style: PageStyle::Numbered { page, page_size } })
    }

    /// Reads `offset` and `limit` (1 to [`MAX_WINDOW`] entries, ending within
    /// the first [`MAX_WINDOW`]): the window an internal caller asks for.
    pub fn window_from_params(params: &mut QueryParams) -> Option<Self> {
        let offset = params.integer("offset", 0, MAX_WINDOW as i64 - 1).unwrap_or(0) as u64;
        let limit = params.integer("limit", 1, MAX_WINDOW as i64).map(|l| l as u64).unwrap_or(DEFAULT_PAGE_SIZE);
        if offset + limit > MAX_WINDOW {
            params.add_error("limit", format!("offset + limit may be at most {MAX_WINDOW}"));
            return None;
        }
        Some(Self { offset, limit, style: PageStyle::Window })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// How many records match in all.
    pub count: u64,
    /// The next page's URL, if there is one.
    pub next: Option<String>,
    /// The previous page's URL, if there is one.
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    pub fn new(results: Vec<T>, count: u64, request: &PageRequest, url: &RequestUrl) -> Self {
        let (next, previous) = match request.style {
            PageStyle::Numbered { page, page_size } => {
                let next = (page * page_size < count).then(|| url.with(&[("page", (page + 1).to_string())], &["page"]));
                let previous = (page > 1).then(|| {
                    if page == 2 {
                        url.with(&[], &["page"])
                    } else {
                        url.with(&[("page", (page - 1).to_string())], &["page"])
                    }
                });
                (next, previous)
            }
            PageStyle::Window => {
                let end = request.offset + request.limit;
                let next = (end < count && request.limit > 0).then(|| {
                    url.with(&[("offset", end.to_string()), ("limit", request.limit.to_string())], &["offset", "limit"])
                });
                let previous = (request.offset > 0).then(|| {
                    let start = request.offset.saturating_sub(request.limit);
                    url.with(
                        &[("offset", start.to_string()), ("limit", request.limit.to_string())],
                        &["offset", "limit"],
                    )
                });
                (next, previous)
            }
        };
        Page { count, next, previous, results }
    }
}

/// The path and query a request was made to, for building page links.
///
/// Links are relative to the host (`/api/books/?page=2`): a client resolves
/// them against the URL it called. They never name a host, since the `Host`
/// header is the client's to write and a link built from it would point
/// wherever the client (or a proxy in between) said.
#[derive(Debug, Clone)]
pub struct RequestUrl {
    path: String,
    query: Vec<(String, String)>,
}

impl RequestUrl {
    pub fn from_parts(parts: &Parts) -> Self {
        Self::new(parts.uri.path(), parts.uri.query())
    }

    pub fn new(path: &str, query: Option<&str>) -> Self {
        Self { path: path.to_string(), query: serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default() }
    }

    /// This URL with `remove` dropped from the query and `set` appended.
    pub fn with(&self, set: &[(&str, String)], remove: &[&str]) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .query
            .iter()
            .filter(|(k, _)| !remove.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend(set.iter().map(|(k, v)| (*k, v.as_str())));
        self.with_query(&pairs)
    }

    /// This URL with its query replaced by `pairs`.
    pub fn with_query<K: AsRef<str>, V: AsRef<str>>(&self, pairs: &[(K, V)]) -> String {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() { self.path.clone() } else { format!("{}?{query}", self.path) }
    }

    pub fn path(&self) -> &str {
        &self.path
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestUrl {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::QueryPairs;

    fn url(query: &str) -> RequestUrl {
        RequestUrl::new("/api/books/", Some(query))
    }

    fn request(query: &str) -> Result<PageRequest, AppError> {
        let mut params = QueryPairs::parse(query).unwrap().into_params();
        let req = PageRequest::from_params(&mut params);
        params.allow("author");
        params.finish()?;
        Ok(req.unwrap())
    }

    #[test]
    fn numbered_pages_link_like_drf() {
        let req = request("page=2&page_size=10&author=x").unwrap();
        assert_eq!(req.offset, 10);
        let page = Page::new(vec![1], 35, &req, &url("page=2&page_size=10&author=x"));
        assert_eq!(page.next.as_deref(), Some("/api/books/?page_size=10&author=x&page=3"));
        assert_eq!(page.previous.as_deref(), Some("/api/books/?page_size=10&author=x"));
        let last = Page::new(vec![1], 30, &request("page=3&page_size=10").unwrap(), &url("page=3&page_size=10"));
        assert_eq!(last.next, None);
    }

    #[test]
    fn oversized_paging_and_windows_on_public_lists_are_rejected() {
        assert!(request("page_size=101").is_err());
        assert!(request("page_size=0").is_err());
        assert!(request("page=0").is_err());
        // One cap: a window is no way around page_size's.
        for query in ["limit=1000", "limit=0", "offset=5&limit=7", "page=2&offset=5"] {
            assert!(request(query).is_err(), "{query}");
        }
    }

    #[test]
    fn internal_windows_stay_within_the_first_thousand() {
        let window = |query: &str| {
            let mut params = QueryPairs::parse(query).unwrap().into_params();
            let req = PageRequest::window_from_params(&mut params);
            params.finish().map(|()| req.unwrap())
        };
        assert_eq!(window("offset=5&limit=7").unwrap(), PageRequest { offset: 5, limit: 7, style: PageStyle::Window });
        assert!(window("offset=990&limit=20").is_err());
        assert!(window("limit=0").is_err());
        assert!(window("page=2").is_err());
    }
}
