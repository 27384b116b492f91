//! The laptop service: the shared catalog with laptop specs, positive RAM and
//! storage, and search by brand, CPU, minimum RAM and storage, and price range.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::FieldErrors;
use shared::catalog::{ItemKind, SearchParam, check_optional_text, check_range, check_required_text};
use shared::documents::Op;
use utoipa::ToSchema;

pub struct Laptop;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LaptopAttributes {
    #[schema(schema_with = shared::openapi::text::<100>)]
    pub brand: String,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<100>)]
    pub model: Option<String>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<100>)]
    pub cpu: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4_096)]
    pub ram_gb: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub storage_gb: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 7.0, maximum = 21.0)]
    pub screen_size_inches: Option<f64>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<100>)]
    pub gpu: Option<String>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<50>)]
    pub os: Option<String>,
}

impl ItemKind for Laptop {
    const TYPE: &'static str = "laptop";
    const PLURAL: &'static str = "laptops";
    const TITLE: &'static str = "Laptop";
    type Attributes = LaptopAttributes;

    fn validate(laptop: &mut LaptopAttributes, errors: &mut FieldErrors) {
        laptop.brand = laptop.brand.trim().to_string();
        check_required_text(errors, "brand", &laptop.brand, 100);
        check_optional_text(errors, "model", laptop.model.as_deref(), 100);
        check_optional_text(errors, "cpu", laptop.cpu.as_deref(), 100);
        check_optional_text(errors, "gpu", laptop.gpu.as_deref(), 100);
        check_optional_text(errors, "os", laptop.os.as_deref(), 50);
        if let Some(ram) = laptop.ram_gb {
            check_range(errors, "ram_gb", ram, 1, 4_096);
        }
        if let Some(storage) = laptop.storage_gb {
            check_range(errors, "storage_gb", storage, 1, 1_000_000);
        }
        if let Some(screen) = laptop.screen_size_inches {
            check_range(errors, "screen_size_inches", screen, 7.0, 21.0);
        }
    }

    fn search_params() -> &'static [SearchParam] {
        const PARAMS: &[SearchParam] = &[
            SearchParam::text("brand", "brand", Op::EqIgnoreCase, "Brand (any case)"),
            SearchParam::text("cpu", "cpu", Op::Contains, "Text in the CPU name"),
            SearchParam::integer("min_ram", "ram_gb", Op::Gte, (1, 4_096), "Least RAM in GB"),
            SearchParam::integer("min_storage", "storage_gb", Op::Gte, (1, 1_000_000), "Least storage in GB"),
            SearchParam::text("os", "os", Op::EqIgnoreCase, "Operating system (any case)"),
        ];
        PARAMS
    }

    fn example() -> Value {
        json!({ "name": "ThinkPad X1 Carbon", "type": "laptop", "brand": "Lenovo", "cpu": "Intel Core i7-1365U",
                "ram_gb": 16, "storage_gb": 512, "screen_size_inches": 14.0, "price": 189900, "currency": "USD" })
    }
}
