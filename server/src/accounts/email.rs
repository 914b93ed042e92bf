//! An email address as Fitroom keeps it. The syntax is RFC 5322's addr-spec as the
//! `email_address` crate checks it, plus a rule of ours: the domain has a dot (a shopper's
//! mailbox is never `ann@localhost`), no display name and no `[domain literal]`.

use email_address::{EmailAddress, Options};

/// Trimmed, with the domain lower-cased; the local part is kept as typed, because that is how
/// mail is addressed. The database compares addresses lower-cased (a unique index on
/// `lower(email)`): one mailbox, one account, whatever the case (docs/api.md, Conventions).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("that does not look like an email address")]
pub struct InvalidEmail;

const SYNTAX: Options = Options {
    minimum_sub_domains: 2,
    allow_domain_literal: false,
    allow_display_text: false,
    allow_long_local_parts: false,
};

impl Email {
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let trimmed = input.trim();
        let parsed = EmailAddress::parse_with_options(trimmed, SYNTAX).map_err(|_| InvalidEmail)?;
        if trimmed.len() > 254 {
            return Err(InvalidEmail);
        }
        Ok(Email(format!("{}@{}", parsed.local_part(), parsed.domain().to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_their_domain_lower_cased() {
        assert_eq!(
            Email::parse("  Ann.Lee@Example.COM ").map(|e| e.0),
            Ok("Ann.Lee@example.com".into())
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@localhost",
            "a b@example.com",
            "ann@exa mple.com",
            "ann@.com",
            "ann@example..com",
            "Ann <ann@example.com>",
            "ann@[192.168.0.1]",
            "ann@@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
    }
}
