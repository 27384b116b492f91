//! The mobile service: the shared catalog with phone specs and search by brand,
//! OS, minimum screen size, camera megapixels and storage.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::FieldErrors;
use shared::catalog::{ItemKind, SearchParam, check_optional_text, check_range, check_required_text};
use shared::documents::Op;
use utoipa::ToSchema;

pub struct Mobile;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MobileAttributes {
    #[schema(schema_with = shared::openapi::text::<100>)]
    pub brand: String,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<100>)]
    pub model: Option<String>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<50>)]
    pub os: Option<String>,
    #[serde(default)]
    #[schema(minimum = 2.0, maximum = 10.0)]
    pub screen_size_inches: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 0.1, maximum = 500.0)]
    pub camera_mp: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 4_096)]
    pub storage_gb: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 64)]
    pub ram_gb: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 100, maximum = 30_000)]
    pub battery_mah: Option<i64>,
}

impl ItemKind for Mobile {
    const TYPE: &'static str = "mobile";
    const PLURAL: &'static str = "mobiles";
    const TITLE: &'static str = "Mobile";
    type Attributes = MobileAttributes;

    fn validate(mobile: &mut MobileAttributes, errors: &mut FieldErrors) {
        mobile.brand = mobile.brand.trim().to_string();
        check_required_text(errors, "brand", &mobile.brand, 100);
        check_optional_text(errors, "model", mobile.model.as_deref(), 100);
        check_optional_text(errors, "os", mobile.os.as_deref(), 50);
        if let Some(screen) = mobile.screen_size_inches {
            check_range(errors, "screen_size_inches", screen, 2.0, 10.0);
        }
        if let Some(camera) = mobile.camera_mp {
            check_range(errors, "camera_mp", camera, 0.1, 500.0);
        }
        if let Some(storage) = mobile.storage_gb {
            check_range(errors, "storage_gb", storage, 1, 4_096);
        }
        if let Some(ram) = mobile.ram_gb {
            check_range(errors, "ram_gb", ram, 1, 64);
        }
        if let Some(battery) = mobile.battery_mah {
            check_range(errors, "battery_mah", battery, 100, 30_000);
        }
    }

    fn search_params() -> &'static [SearchParam] {
        const PARAMS: &[SearchParam] = &[
            SearchParam::text("brand", "brand", Op::EqIgnoreCase, "Brand (any case)"),
            SearchParam::text("os", "os", Op::EqIgnoreCase, "Operating system (any case)"),
            SearchParam::number(
                "min_screen",
                "screen_size_inches",
                Op::Gte,
                (2.0, 10.0),
                "Smallest screen diagonal in inches",
            ),
            SearchParam::number(
                "min_camera",
                "camera_mp",
                Op::Gte,
                (0.1, 500.0),
                "Least main camera resolution in megapixels",
            ),
            SearchParam::integer("min_storage", "storage_gb", Op::Gte, (1, 4_096), "Least storage in GB"),
            SearchParam::integer("storage", "storage_gb", Op::Eq, (1, 4_096), "Exact storage in GB"),
        ];
        PARAMS
    }

    fn example() -> Value {
        json!({ "name": "Pixel 9", "type": "mobile", "brand": "Google", "os": "Android", "screen_size_inches": 6.3,
                "camera_mp": 50.0, "storage_gb": 128, "price": 79900 })
    }
}
