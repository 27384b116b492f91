//! The API Gateway routes in `template.yaml`, so the local server serves exactly
//! the paths a deployment does.

use serde_yaml::Value;

/// One `HttpApi` event of a function in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoute {
    /// The function's binary (its `BuildProperties.Binary`).
    pub binary: String,
    pub method: String,
    /// The API Gateway path, e.g. `/api/books/{proxy+}`.
    pub path: String,
}

/// One `AWS::Serverless::Function` of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its logical id, e.g. `BookFunction` (what `sam local --env-vars` files key on).
    pub logical_id: String,
    /// Its binary (its `BuildProperties.Binary`).
    pub binary: String,
    /// The names of its own `Environment.Variables` (the Globals' are not repeated).
    pub variables: Vec<String>,
}

/// Every function of the template with its binary and environment variable names.
pub fn functions(template: &str) -> Result<Vec<Function>, String> {
    Ok(serverless_functions(&parse(template)?)?
        .into_iter()
        .map(|(logical_id, binary, resource)| {
            let variables = resource
                .get("Properties")
                .and_then(|p| p.get("Environment"))
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping)
                .map(|vars| vars.keys().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            Function { logical_id: logical_id.to_string(), binary, variables }
        })
        .collect())
}

/// Every HttpApi route of every Rust function in the template.
pub fn api_routes(template: &str) -> Result<Vec<ApiRoute>, String> {
    let doc = parse(template)?;
    let mut routes = Vec::new();
    for (name, binary, resource) in serverless_functions(&doc)? {
        let events = resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping);
        for event in events.into_iter().flat_map(|e| e.values()) {
            if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let props =
                event.get("Properties").ok_or_else(|| format!("{name} has an HttpApi event without Properties"))?;
            let path = props
                .get("Path")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{name} has an HttpApi event without Path"))?;
            let method = props.get("Method").and_then(Value::as_str).unwrap_or("ANY");
            routes.push(ApiRoute {
                binary: binary.clone(),
                method: method.to_ascii_uppercase(),
                path: path.to_string(),
            });
        }
    }
    Ok(routes)
}

/// The HTTP API's `CorsConfiguration`, with `!Ref` parameters at their defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsConfiguration {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
    pub allow_credentials: bool,
}

pub fn cors(template: &str) -> Result<CorsConfiguration, String> {
    let doc = parse(template)?;
    let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template.yaml has no Resources")?;
    let api = resources
        .values()
        .find(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::HttpApi"))
        .ok_or("template.yaml has no AWS::Serverless::HttpApi")?;
    let Some(config) = api.get("Properties").and_then(|p| p.get("CorsConfiguration")) else {
        return Ok(CorsConfiguration::default());
    };
    let list = |name: &str| -> Result<Vec<String>, String> {
        match config.get(name).map(|v| resolve(&doc, v)).transpose()? {
            None => Ok(Vec::new()),
            Some(Value::Sequence(items)) => Ok(items.iter().filter_map(Value::as_str).map(str::to_string).collect()),
            // A CommaDelimitedList parameter's default is one string.
            Some(Value::String(text)) => Ok(text.split(',').map(|s| s.trim().to_string()).collect()),
            Some(other) => Err(format!("CorsConfiguration.{name} is not a list: {other:?}")),
        }
    };
    Ok(CorsConfiguration {
        allow_origins: list("AllowOrigins")?,
        allow_methods: list("AllowMethods")?,
        allow_headers: list("AllowHeaders")?,
        expose_headers: list("ExposeHeaders")?,
        max_age: config.get("MaxAge").and_then(Value::as_u64),
        allow_credentials: config.get("AllowCredentials").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// A value, or for `!Ref Parameter` that parameter's default.
fn resolve(doc: &Value, value: &Value) -> Result<Value, String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!Ref" => {
            let name = tagged.value.as_str().ok_or("!Ref names no parameter")?;
            doc.get("Parameters")
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("Default"))
                .cloned()
                .ok_or_else(|| format!("parameter {name} has no default"))
        }
        other => Ok(other.clone()),
    }
}

/// The template as YAML values; CloudFormation tags (`!Ref`, `!Sub`) become
/// tagged values, which nothing here needs to resolve.
fn parse(template: &str) -> Result<Value, String> {
    serde_yaml::from_str(template).map_err(|e| format!("template.yaml is not valid YAML: {e}"))
}

/// Each `AWS::Serverless::Function` resource: its logical id, binary and body.
fn serverless_functions(doc: &Value) -> Result<Vec<(&str, String, &Value)>, String> {
    let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template.yaml has no Resources")?;
    let mut functions = Vec::new();
    for (name, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or("?");
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{name} has no Metadata.BuildProperties.Binary"))?;
        functions.push((name, binary.to_string(), resource));
    }
    Ok(functions)
}

/// The axum paths that serve an API Gateway path: `{proxy+}` becomes a catch-all,
/// and a catch-all route also serves its parent with a trailing slash, which
/// API Gateway hands to the same function.
pub fn axum_paths(path: &str) -> Vec<String> {
    match path.split_once("/{") {
        Some((parent, rest)) if rest.ends_with("+}") => {
            let name = rest.trim_end_matches("+}");
            vec![format!("{parent}/{{*{name}}}"), format!("{parent}/")]
        }
        _ => vec![path.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_function_route_from_the_template() {
        let routes = api_routes(crate::TEMPLATE).unwrap();
        for (binary, path) in [
            ("items-router", "/api/items"),
            ("items-router", "/api/items/{proxy+}"),
            ("book", "/api/books"),
            ("laptop", "/api/laptops/{proxy+}"),
            ("mobile", "/api/mobiles"),
            ("clothes", "/api/clothes/{proxy+}"),
        ] {
            assert!(routes.iter().any(|r| r.binary == binary && r.path == path), "{binary} {path}");
        }
    }

    #[test]
    fn reads_each_function_with_its_own_variables() {
        let functions = functions(crate::TEMPLATE).unwrap();
        let book = functions.iter().find(|f| f.logical_id == "BookFunction").unwrap();
        assert_eq!(book.binary, "book");
        assert!(book.variables.iter().any(|v| v == "BOOK_DATABASE_URL"), "{:?}", book.variables);
        assert!(functions.iter().any(|f| f.binary == "vip-customer"), "functions without routes count too");
    }

    #[test]
    fn reads_the_cors_configuration_with_parameter_defaults() {
        let cors = cors(crate::TEMPLATE).unwrap();
        assert_eq!(cors.allow_origins, ["*"]);
        assert!(cors.allow_methods.iter().any(|m| m == "PATCH"), "{cors:?}");
        assert!(cors.allow_headers.iter().any(|h| h == "X-Guest-Token"), "{cors:?}");
        assert!(cors.expose_headers.iter().any(|h| h == "Location"), "{cors:?}");
        assert_eq!(cors.max_age, Some(600));
    }

    #[test]
    fn greedy_paths_become_catch_alls() {
        assert_eq!(axum_paths("/api/books/{proxy+}"), ["/api/books/{*proxy}", "/api/books/"]);
        assert_eq!(axum_paths("/api/books"), ["/api/books"]);
    }
}
