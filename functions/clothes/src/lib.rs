//! The clothes service: the shared catalog with sizes from a fixed set and search
//! by style, size, colour, material and gender.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared::FieldErrors;
use shared::catalog::{ItemKind, SearchParam, check_optional_text};
use shared::documents::Op;
use utoipa::ToSchema;

pub struct Clothes;

pub const SIZES: [&str; 8] = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"];
pub const GENDERS: [&str; 4] = ["men", "women", "unisex", "kids"];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClothesAttributes {
    /// One of XXS, XS, S, M, L, XL, XXL, XXXL (any case on input).
    #[schema(pattern = r"^(?:[Xx]{0,2}[Ss]|[Mm]|[Xx]{0,3}[Ll])$")]
    pub size: String,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<50>)]
    pub color: Option<String>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<100>)]
    pub material: Option<String>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<50>)]
    pub style: Option<String>,
    /// One of men, women, unisex, kids.
    #[serde(default)]
    #[schema(pattern = r"^(?:[Mm][Ee][Nn]|[Ww][Oo][Mm][Ee][Nn]|[Uu][Nn][Ii][Ss][Ee][Xx]|[Kk][Ii][Dd][Ss])$")]
    pub gender: Option<String>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::optional_text::<100>)]
    pub brand: Option<String>,
}

impl ItemKind for Clothes {
    const TYPE: &'static str = "clothes";
    const PLURAL: &'static str = "clothes";
    const TITLE: &'static str = "Clothes";
    type Attributes = ClothesAttributes;

    fn validate(clothes: &mut ClothesAttributes, errors: &mut FieldErrors) {
        clothes.size = clothes.size.trim().to_ascii_uppercase();
        if !SIZES.contains(&clothes.size.as_str()) {
            errors.add("size", format!("must be one of {}", SIZES.join(", ")));
        }
        if let Some(gender) = &mut clothes.gender {
            *gender = gender.trim().to_ascii_lowercase();
            if !GENDERS.contains(&gender.as_str()) {
                errors.add("gender", format!("must be one of {}", GENDERS.join(", ")));
            }
        }
        check_optional_text(errors, "color", clothes.color.as_deref(), 50);
        check_optional_text(errors, "material", clothes.material.as_deref(), 100);
        check_optional_text(errors, "style", clothes.style.as_deref(), 50);
        check_optional_text(errors, "brand", clothes.brand.as_deref(), 100);
    }

    fn search_params() -> &'static [SearchParam] {
        const PARAMS: &[SearchParam] = &[
            SearchParam::text("style", "style", Op::EqIgnoreCase, "Style (any case)"),
            SearchParam::text("size", "size", Op::EqIgnoreCase, "Size, e.g. M"),
            SearchParam::text("color", "color", Op::EqIgnoreCase, "Colour (any case)"),
            SearchParam::text("colour", "color", Op::EqIgnoreCase, "Same as color"),
            SearchParam::text("material", "material", Op::Contains, "Text in the material"),
            SearchParam::text("gender", "gender", Op::EqIgnoreCase, "men, women, unisex or kids"),
        ];
        PARAMS
    }

    fn example() -> Value {
        json!({ "name": "Summer T-Shirt", "type": "clothes", "size": "L", "color": "Blue", "material": "Cotton" })
    }
}
