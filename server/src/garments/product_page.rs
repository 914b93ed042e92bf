//! A shop's product page, read for its garment: the picture and the product's name. Where shops
//! put them, in order of trust: Open Graph (`og:image`, `og:title`), schema.org JSON-LD
//! (`Product.image` and `name`, whether the `Product` stands alone, in an array or in an
//! `@graph`), then Twitter cards (`twitter:image`), with the page's `<title>` as the last
//! name. Relative URLs are resolved against the page's own address.

use serde_json::Value;
use url::Url;

/// What a product page says of its garment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub image: Url,
    pub title: Option<String>,
}

/// The few character references that appear in real attribute values (tl leaves them as sent).
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

fn clean(text: &str) -> Option<String> {
    let text = unescape(text).split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then(|| text.chars().take(200).collect())
}

/// An image URL as the page gives it, made absolute; only http(s).
fn absolute(base: &Url, text: &str) -> Option<Url> {
    let url = base.join(unescape(text).trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

#[derive(Default)]
struct Meta {
    og_image: Option<String>,
    og_title: Option<String>,
    twitter_image: Option<String>,
    title: Option<String>,
    json_ld: Vec<String>,
}

fn read(html: &str) -> Meta {
    let mut meta = Meta::default();
    let Ok(dom) = tl::parse(html, tl::ParserOptions::default()) else { return meta };
    let parser = dom.parser();
    let attr = |tag: &tl::HTMLTag<'_>, name: &str| {
        tag.attributes().get(name).flatten().map(|b| b.as_utf8_str().into_owned())
    };
    for handle in dom.query_selector("meta").into_iter().flatten() {
        let Some(tag) = handle.get(parser).and_then(tl::Node::as_tag) else { continue };
        let key = attr(tag, "property").or_else(|| attr(tag, "name")).unwrap_or_default();
        let Some(content) = attr(tag, "content").filter(|c| !c.trim().is_empty()) else { continue };
        let slot = match key.trim().to_ascii_lowercase().as_str() {
            "og:image" | "og:image:secure_url" | "og:image:url" => &mut meta.og_image,
            "og:title" => &mut meta.og_title,
            "twitter:image" | "twitter:image:src" => &mut meta.twitter_image,
            _ => continue,
        };
        slot.get_or_insert(content);
    }
    for handle in dom.query_selector("script").into_iter().flatten() {
        let Some(tag) = handle.get(parser).and_then(tl::Node::as_tag) else { continue };
        if attr(tag, "type").is_some_and(|t| t.trim().eq_ignore_ascii_case("application/ld+json")) {
            meta.json_ld.push(tag.inner_text(parser).into_owned());
        }
    }
    meta.title = dom
        .query_selector("title")
        .into_iter()
        .flatten()
        .next()
        .and_then(|h| h.get(parser))
        .map(|n| n.inner_text(parser).into_owned());
    meta
}

/// Every JSON-LD node that is a `Product`, wherever the document puts it.
fn products(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| products(v, out)),
        Value::Object(map) => {
            let is_product = match map.get("@type") {
                Some(Value::String(t)) => t == "Product" || t.ends_with("/Product"),
                Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str() == Some("Product")),
                _ => false,
            };
            if is_product {
                out.push(value.clone());
            }
            if let Some(graph) = map.get("@graph") {
                products(graph, out);
            }
        }
        _ => {}
    }
}

/// The first usable image of a JSON-LD `image`: a URL, a list of them, or an `ImageObject`.
fn image_of(value: &Value) -> Option<String> {
    match value {
        Value::String(url) => Some(url.clone()),
        Value::Array(items) => items.iter().find_map(image_of),
        Value::Object(map) => map.get("url").or_else(|| map.get("contentUrl")).and_then(image_of),
        _ => None,
    }
}

/// The garment of the page at `base`, if the page names a picture of it.
pub fn find(html: &str, base: &Url) -> Option<Found> {
    let meta = read(html);
    let mut found_products = Vec::new();
    for block in &meta.json_ld {
        if let Ok(value) = serde_json::from_str::<Value>(block.trim()) {
            products(&value, &mut found_products);
        }
    }
    let ld_image = found_products.iter().find_map(|p| p.get("image").and_then(image_of));
    let ld_name = found_products
        .iter()
        .find_map(|p| p.get("name").and_then(Value::as_str).map(str::to_owned));
    let image = [meta.og_image.as_deref(), ld_image.as_deref(), meta.twitter_image.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|text| absolute(base, text))?;
    let title = [meta.og_title.as_deref(), ld_name.as_deref(), meta.title.as_deref()]
        .into_iter()
        .flatten()
        .find_map(clean);
    Some(Found { image, title })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://shop.example/en/products/linen-shirt?color=green").unwrap()
    }

    #[test]
    fn open_graph_comes_first_and_relative_urls_are_resolved() {
        let html = r#"<!doctype html><html><head>
            <title>Linen shirt | Shop</title>
            <meta property="og:title" content="Green linen shirt">
            <meta property="og:image" content="/cdn/shirt.jpg?w=1200&amp;h=1600">
            <meta name="twitter:image" content="https://cdn.example/twitter.jpg">
            </head><body></body></html>"#;
        let found = find(html, &base()).unwrap();
        assert_eq!(found.image.as_str(), "https://shop.example/cdn/shirt.jpg?w=1200&h=1600");
        assert_eq!(found.title.as_deref(), Some("Green linen shirt"));
    }

    #[test]
    fn a_json_ld_product_in_an_array_with_an_image_list() {
        let html = r#"<html><head><title>Shop</title>
            <script type="application/ld+json">[{"@type":"BreadcrumbList"},
              {"@context":"https://schema.org","@type":"Product","name":"Wool coat",
               "image":["//images.example/coat-1.webp","//images.example/coat-2.webp"]}]</script>
            </head></html>"#;
        let found = find(html, &base()).unwrap();
        assert_eq!(found.image.as_str(), "https://images.example/coat-1.webp");
        assert_eq!(found.title.as_deref(), Some("Wool coat"));
    }

    #[test]
    fn a_json_ld_product_inside_a_graph_with_an_image_object() {
        let html = r#"<script type="application/ld+json">
            {"@context":"https://schema.org","@graph":[{"@type":"WebPage","name":"x"},
              {"@type":["Product"],"name":"Denim jacket","image":{"@type":"ImageObject","url":"jacket.png"}}]}
            </script>"#;
        let found = find(html, &base()).unwrap();
        assert_eq!(found.image.as_str(), "https://shop.example/en/products/jacket.png");
        assert_eq!(found.title.as_deref(), Some("Denim jacket"));
    }

    #[test]
    fn twitter_cards_and_the_page_title_are_the_last_resort() {
        let html = r#"<head><title> Summer   dress &amp; belt </title>
            <meta name="twitter:image" content="https://cdn.example/dress.jpg"></head>"#;
        let found = find(html, &base()).unwrap();
        assert_eq!(found.image.as_str(), "https://cdn.example/dress.jpg");
        assert_eq!(found.title.as_deref(), Some("Summer dress & belt"));
    }

    #[test]
    fn a_page_without_a_picture_has_no_garment() {
        let html = r#"<html><head><title>About us</title>
            <meta property="og:image" content="javascript:alert(1)">
            <script type="application/ld+json">{"@type":"Organization","logo":"/logo.png"}</script>
            <script type="application/ld+json">not json at all</script></head></html>"#;
        assert_eq!(find(html, &base()), None);
        assert_eq!(find("", &base()), None);
        assert_eq!(find("<<<>>> garbage <meta", &base()), None);
    }
}
