//! Where things are: the workspace, its target directory, the functions and
//! their template settings; and the machine the figures come from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::report::Machine;

/// The function binaries, in the order the report lists them.
pub const FUNCTIONS: [&str; 13] = [
    "items-router",
    "customer-router",
    "book",
    "laptop",
    "mobile",
    "clothes",
    "guest-customer",
    "registered-customer",
    "vip-customer",
    "cart",
    "order",
    "paying",
    "shipping",
];

pub fn is_router(function: &str) -> bool {
    function.ends_with("-router")
}

#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    /// The workspace this bench was built in; `CARGO_TARGET_DIR` (relative to
    /// the workspace) or `<workspace>/target`, as cargo itself decides.
    pub fn discover() -> Result<Self, Error> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest
            .join("../..")
            .canonicalize()
            .map_err(|e| format!("cannot find the workspace above {}: {e}", manifest.display()))?;
        let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => root.join(dir),
            None => root.join("target"),
        };
        Ok(Self { root, target })
    }

    pub fn release_bin(&self, name: &str) -> PathBuf {
        self.target.join("release").join(name)
    }
}

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<Self, Error> {
        let path = std::env::temp_dir().join(format!("shop-bench-{label}-{}-{}", std::process::id(), ulid_like()));
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A name part unique within this run.
fn ulid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `MemorySize` of each function (by binary name) from the template, the
/// `Globals` value for functions that set none.
pub fn memory_sizes(template: &str) -> Result<BTreeMap<String, u64>, Error> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let default = doc["Globals"]["Function"]["MemorySize"].as_u64().unwrap_or(128);
    let mut sizes = BTreeMap::new();
    if let Some(resources) = doc["Resources"].as_mapping() {
        for resource in resources.values() {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            if let Some(binary) = resource["Metadata"]["BuildProperties"]["Binary"].as_str() {
                let size = resource["Properties"]["MemorySize"].as_u64().unwrap_or(default);
                sizes.insert(binary.to_string(), size);
            }
        }
    }
    Ok(sizes)
}

/// The settings the template gives each function, with the binary names that
/// `cargo lambda watch` uses for the functions it invokes. Store URLs are left
/// out on purpose: `LOCAL_DATA_DIR` selects the embedded SQLite stores.
pub fn function_env(function: &str) -> Vec<(&'static str, &'static str)> {
    match function {
        "customer-router" => vec![
            ("GUEST_CUSTOMER_FUNCTION", "guest-customer"),
            ("REGISTERED_CUSTOMER_FUNCTION", "registered-customer"),
            ("VIP_CUSTOMER_FUNCTION", "vip-customer"),
            ("CART_FUNCTION", "cart"),
            ("TOKEN_TTL_SECS", "3600"),
            ("INVOKE_TIMEOUT_MS", "6000"),
        ],
        "guest-customer" => vec![("GUEST_SESSION_TTL_DAYS", "30")],
        "registered-customer" => vec![("PUBLIC_BASE_URL", "http://127.0.0.1:9000")],
        "items-router" => vec![
            (
                "ITEM_SERVICES",
                "book=book@/api/books,laptop=laptop@/api/laptops,mobile=mobile@/api/mobiles,clothes=clothes@/api/clothes",
            ),
            ("INVOKE_TIMEOUT_MS", "3000"),
        ],
        "cart" => vec![
            ("ITEMS_ROUTER_FUNCTION", "items-router"),
            ("GUEST_CUSTOMER_FUNCTION", "guest-customer"),
            ("INVOKE_TIMEOUT_MS", "5000"),
        ],
        "order" => vec![
            ("CART_FUNCTION", "cart"),
            ("ITEMS_ROUTER_FUNCTION", "items-router"),
            ("VIP_CUSTOMER_FUNCTION", "vip-customer"),
            ("PAYING_FUNCTION", "paying"),
            ("SHIPPING_FUNCTION", "shipping"),
            ("INVOKE_TIMEOUT_MS", "5000"),
        ],
        "paying" => vec![
            ("ORDER_FUNCTION", "order"),
            ("VIP_CUSTOMER_FUNCTION", "vip-customer"),
            ("CAPTURE_IMMEDIATELY", "false"),
            ("INVOKE_TIMEOUT_MS", "6000"),
        ],
        "shipping" => vec![
            ("ORDER_FUNCTION", "order"),
            ("PAYING_FUNCTION", "paying"),
            ("VIP_CUSTOMER_FUNCTION", "vip-customer"),
            ("INVOKE_TIMEOUT_MS", "3000"),
        ],
        _ => Vec::new(),
    }
}

fn first_line_with(text: &str, key: &str) -> Option<String> {
    text.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string())
}

pub fn machine() -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cores = std::thread::available_parallelism().map(|n| n.get().to_string()).unwrap_or_else(|_| "?".into());
    let memory = first_line_with(&read("/proc/meminfo"), "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into());
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    Machine {
        cpu: first_line_with(&cpuinfo, "model name").unwrap_or_else(|| "?".into()),
        cores,
        memory,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        rustc,
        date: time::OffsetDateTime::now_utc().format(&format).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_come_from_the_template_with_the_global_default() {
        let sizes = memory_sizes(local::TEMPLATE).unwrap();
        assert_eq!(sizes.len(), FUNCTIONS.len(), "{sizes:?}");
        assert_eq!(sizes["items-router"], 128);
        assert_eq!(sizes["customer-router"], 128);
        assert!(sizes["book"] >= 256);
        for function in FUNCTIONS {
            assert!(sizes.contains_key(function), "{function}");
        }
    }

    #[test]
    fn routers_are_told_apart_from_services() {
        assert!(is_router("items-router") && is_router("customer-router"));
        assert!(!is_router("book") && !is_router("guest-customer"));
    }
}
