//! Mail to shoppers (email verification, password reset): over SMTP with `lettre` when
//! `FITROOM_SMTP_URL` is set; otherwise written as `.eml` files under `<data dir>/outbox/` and
//! logged, so that the embedded default works offline and an operator can still find a link.

mod outbox;
pub mod templates;

use std::path::PathBuf;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// One mail, in plain text and HTML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("FITROOM_MAIL_FROM is not a mailbox: {0}")]
    From(String),
    #[error("FITROOM_SMTP_URL is not usable: {0}")]
    Url(String),
    #[error("the address {0:?} is not a mailbox")]
    To(String),
    #[error("building the message failed: {0}")]
    Build(String),
    #[error("sending over SMTP failed: {0}")]
    Smtp(String),
    #[error("writing to the outbox failed: {0}")]
    Outbox(#[from] std::io::Error),
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// Where mail goes, and from whom.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Mailer, MailError> {
        let from: Mailbox =
            config.mail_from.parse().map_err(|e| MailError::From(format!("{e}")))?;
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Url(e.to_string()))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build(),
            ),
            None => Transport::Outbox(config.data_dir.join("outbox")),
        };
        Ok(Mailer { from, transport })
    }

    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let to: Mailbox = mail.to.parse().map_err(|_| MailError::To(mail.to.clone()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text.clone(), mail.html.clone()))
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| MailError::Smtp(e.to_string()))?;
                tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent");
            }
            Transport::Outbox(dir) => {
                let path = outbox::write(dir, &message.formatted()).await?;
                // Offline, the log is where an operator finds the link.
                tracing::info!(
                    to = %mail.to, subject = %mail.subject, path = %path.display(), body = %mail.text,
                    "mail written to the outbox (FITROOM_SMTP_URL is not set)"
                );
            }
        }
        Ok(())
    }
}
