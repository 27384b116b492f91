//! Sending mail through a port, so the service can verify emails without knowing
//! how mail leaves. The file adapter is the local one: each message becomes a file
//! a developer can open.

use std::path::PathBuf;

use async_trait::async_trait;
use shared::error::{AppError, AppResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: Mail) -> AppResult<()>;
}

/// Writes each message to `<dir>/<time>-<recipient>.eml` and logs where (never the
/// body: it carries a verification token).
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: Mail) -> AppResult<()> {
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| AppError::internal(format!("mail folder: {e}")))?;
        let safe_to: String =
            mail.to.chars().map(|c| if c.is_ascii_alphanumeric() || "@.-_".contains(c) { c } else { '_' }).collect();
        let path = self.dir.join(format!("{}-{safe_to}.eml", shared::ids::new_id("mail")));
        let text = format!(
            "To: {}\nSubject: {}\nContent-Type: text/plain; charset=utf-8\n\n{}\n",
            mail.to, mail.subject, mail.body
        );
        tokio::fs::write(&path, text).await.map_err(|e| AppError::internal(format!("writing mail: {e}")))?;
        tracing::info!(to = %mail.to, subject = %mail.subject, file = %path.display(), "mail written");
        Ok(())
    }
}
