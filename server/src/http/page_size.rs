//! The `limit` query parameter of list endpoints: absent or empty means the default, anything
//! but a whole number from 1 is refused, and a large one is capped.

use crate::http::ApiError;

pub fn page_size(limit: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(default),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(ApiError::invalid(format!("limit must be a whole number from 1 to {max}."))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_cap_and_refuse() {
        assert_eq!(page_size(None, 50, 200).ok(), Some(50));
        assert_eq!(page_size(Some(""), 50, 200).ok(), Some(50));
        assert_eq!(page_size(Some("7"), 50, 200).ok(), Some(7));
        assert_eq!(page_size(Some("9999"), 50, 200).ok(), Some(200));
        for bad in ["0", "-1", "x", "1.5"] {
            assert!(page_size(Some(bad), 50, 200).is_err(), "{bad}");
        }
    }
}
