//! The mails Fitroom sends, in plain text and HTML, their links built from `FITROOM_PUBLIC_URL`.

use super::Mail;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(title: &str, paragraphs: &[&str], link: &str, button: &str, after: &str) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{}</p>", escape(p))).collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family: sans-serif; color: #1c1917\"><h1 style=\"font-size: 20px\">{title}</h1>{body}\
         <p><a href=\"{link}\" style=\"background: #4338ca; color: #fff; padding: 10px 16px; border-radius: 8px; text-decoration: none\">{button}</a></p>\
         <p style=\"color: #57534e\">{after}</p><p style=\"color: #57534e\">{raw}</p></body></html>",
        title = escape(title),
        link = escape(link),
        button = escape(button),
        after = escape(after),
        raw = escape(link),
    )
}

/// "Confirm your address": the link verifies it (and, with `FITROOM_VERIFY_EMAIL=credits`,
/// grants the welcome credits).
pub fn verify_email(public_url: &str, to: &str, token: &str) -> Mail {
    let link = format!("{public_url}/verify-email?token={token}");
    let intro =
        "Please confirm that this is your address, so that your Fitroom account can use it.";
    let after = "The link works once and for 48 hours. If you did not sign up, ignore this mail.";
    Mail {
        to: to.to_owned(),
        subject: "Confirm your Fitroom address".into(),
        text: format!("{intro}\n\n{link}\n\n{after}\n"),
        html: html("Confirm your address", &[intro], &link, "Confirm my address", after),
    }
}

/// "Reset your password": valid for an hour, once.
pub fn password_reset(public_url: &str, to: &str, token: &str) -> Mail {
    let link = format!("{public_url}/reset-password?token={token}");
    let intro =
        "Someone asked to reset the password of your Fitroom account. Choose a new one here:";
    let after = "The link works once and for one hour, and signs you out everywhere. If you did not ask, ignore this mail: your password stays as it is.";
    Mail {
        to: to.to_owned(),
        subject: "Reset your Fitroom password".into(),
        text: format!("{intro}\n\n{link}\n\n{after}\n"),
        html: html("Reset your password", &[intro], &link, "Choose a new password", after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_built_from_the_public_url_in_both_bodies() {
        let mail = password_reset("https://fit.example", "ann@example.com", "abc123");
        assert!(mail.text.contains("https://fit.example/reset-password?token=abc123"));
        assert!(mail.html.contains("href=\"https://fit.example/reset-password?token=abc123\""));
        let mail = verify_email("https://fit.example", "ann@example.com", "t");
        assert!(mail.text.contains("https://fit.example/verify-email?token=t"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
    }
}
