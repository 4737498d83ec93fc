//! The SMTP client: connections of our own, each step under a deadline, and a connection
//! that saw a deadline or an error never used again.
//!
//! lettre's pool hands a connection back when a send's future is dropped, even with a reply
//! still unread; every later reply on it then answers the wrong message. So dawnpost drives
//! lettre's single connection itself: MAIL, RCPT, DATA and the message, one step at a time,
//! and it knows which step a failure hit. Only a failure after the end of the message was
//! written leaves it unable to tell whether the server took the message: that is
//! [`DeliveryError::Unknown`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lettre::Address;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use super::DeliveryError;
use crate::config::{Secret, SmtpSecurity};

/// A mail server and the idle connections to it that are known to be in step.
pub struct SmtpClient {
    host: String,
    port: u16,
    security: SmtpSecurity,
    tls: TlsParameters,
    login: Option<(String, Secret)>,
    /// The deadline of each step: connecting, each command's reply, the message's reply.
    step: Duration,
    hello: ClientId,
    /// Connections whose last exchange ended in a positive reply, and nothing else.
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    /// "smtp://host:587 (STARTTLS required)", for messages.
    pub describe: String,
}

impl std::fmt::Debug for SmtpClient {
    // By hand: the login holds the password, and lettre's connection has no Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("server", &self.describe)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// Where a message's exchange failed: before the end of the message was written the server
/// cannot have taken it; after, nobody can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Envelope,
    Content,
    AwaitingReply,
}

impl SmtpClient {
    pub fn new(
        host: String,
        port: u16,
        security: SmtpSecurity,
        tls: TlsParameters,
        login: Option<(String, Secret)>,
        step: Duration,
    ) -> SmtpClient {
        let (scheme, mode) = match security {
            SmtpSecurity::StartTls => ("smtp", "STARTTLS required"),
            SmtpSecurity::ImplicitTls => ("smtps", "implicit TLS"),
            SmtpSecurity::Plain => ("smtp", "plain text, as configured"),
        };
        SmtpClient {
            describe: format!("{scheme}://{host}:{port} ({mode})"),
            host,
            port,
            security,
            tls,
            login,
            step,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The longest one message can take: connect, three commands and the message.
    pub fn deadline(&self) -> Duration {
        self.step * 5
    }

    /// Sends one message; Ok only on the 250 that answers its own end of data. `mark` is
    /// awaited once the server has accepted the envelope, before DATA: an error from it
    /// closes the connection with the message unsent.
    pub async fn send(
        &self,
        envelope: &Envelope,
        body: &[u8],
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
    ) -> Result<(), DeliveryError> {
        let reused = self.take_idle();
        let had_idle = reused.is_some();
        let mut conn = match reused {
            Some(c) => c,
            None => self.connect().await?,
        };
        match self.transaction(&mut conn, envelope, body, mark).await {
            Ok(()) => {
                self.give_back(conn);
                Ok(())
            }
            // An idle connection the server closed meanwhile: nothing was sent on it, so a
            // fresh connection may try the same message.
            Err((Phase::Envelope, e)) if had_idle && e.is_transient_network() => {
                drop(conn);
                let mut fresh = self.connect().await?;
                match self.transaction(&mut fresh, envelope, body, mark).await {
                    Ok(()) => {
                        self.give_back(fresh);
                        Ok(())
                    }
                    Err((phase, e)) => Err(e.into_delivery(phase, &self.describe, self.step)),
                }
            }
            // The connection is dropped here, closed, never reused.
            Err((phase, e)) => Err(e.into_delivery(phase, &self.describe, self.step)),
        }
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().map_or(None, |mut v| v.pop())
    }

    fn give_back(&self, conn: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }

    /// Closes the idle connections politely (QUIT), each under the step deadline.
    pub async fn close(&self) {
        let conns: Vec<_> = self
            .idle
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        for mut c in conns {
            let _ = tokio::time::timeout(self.step, c.quit()).await;
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let step = async {
            let wrapper = (self.security == SmtpSecurity::ImplicitTls).then(|| self.tls.clone());
            let mut conn = AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.step),
                &self.hello,
                wrapper,
                None,
            )
            .await?;
            if self.security == SmtpSecurity::StartTls {
                if !conn.can_starttls() {
                    return Err(StepError::NoStartTls);
                }
                conn.starttls(self.tls.clone(), &self.hello).await?;
            }
            if let Some((user, password)) = &self.login {
                let creds = Credentials::new(user.clone(), password.expose().to_string());
                conn.auth(DEFAULT_MECHANISMS, &creds).await?;
            }
            Ok(conn)
        };
        match tokio::time::timeout(self.step * 2, step).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(e.into_delivery(Phase::Connect, &self.describe, self.step)),
            Err(_) => Err(StepError::Deadline.into_delivery(
                Phase::Connect,
                &self.describe,
                self.step * 2,
            )),
        }
    }

    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        body: &[u8],
        mark: &impl AsyncFn() -> Result<(), DeliveryError>,
    ) -> Result<(), (Phase, StepError)> {
        let mut params = Vec::new();
        let ascii;
        let envelope = if conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            envelope
        } else {
            ascii = ascii_domains(envelope);
            &ascii
        };
        // An address beyond ASCII (an internationalised mailbox) needs SMTPUTF8 (RFC 6531).
        let non_ascii = envelope
            .from()
            .into_iter()
            .chain(envelope.to())
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if non_ascii {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err((Phase::Envelope, StepError::NoSmtpUtf8));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !body.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err((Phase::Envelope, StepError::No8BitMime));
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let env = |e| (Phase::Envelope, e);
        self.timed(conn.command(Mail::new(envelope.from().cloned(), params)))
            .await
            .map_err(env)?;
        for to in envelope.to() {
            self.timed(conn.command(Rcpt::new(to.clone(), vec![])))
                .await
                .map_err(env)?;
        }
        // The last moment the message certainly has not reached the server.
        mark().await.map_err(|e| env(StepError::Withheld(e)))?;
        self.timed(conn.command(Data)).await.map_err(env)?;
        // Set once the last byte of content is handed over, just before the final dot: from
        // then on the server may have taken the message whatever we hear back.
        let ended = AtomicBool::new(false);
        let parts = [body].into_iter().chain(std::iter::from_fn(|| {
            ended.store(true, Ordering::SeqCst);
            None
        }));
        match self.timed(conn.message_iter(parts)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let phase = match e {
                    // A negative reply is an answer: the message was refused.
                    StepError::Smtp(ref s) if s.status().is_some() => Phase::AwaitingReply,
                    _ if ended.load(Ordering::SeqCst) => Phase::AwaitingReply,
                    _ => Phase::Content,
                };
                Err((phase, e))
            }
        }
    }

    async fn timed<T>(
        &self,
        fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<(), StepError> {
        match tokio::time::timeout(self.step, fut).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StepError::Smtp(e)),
            Err(_) => Err(StepError::Deadline),
        }
    }
}

#[derive(Debug)]
enum StepError {
    Smtp(lettre::transport::smtp::Error),
    Deadline,
    NoStartTls,
    No8BitMime,
    NoSmtpUtf8,
    /// The sender held the message back before DATA (its ledger mark failed).
    Withheld(DeliveryError),
}

impl From<lettre::transport::smtp::Error> for StepError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        StepError::Smtp(e)
    }
}

impl StepError {
    /// A dropped connection or a network error, as opposed to an answer.
    fn is_transient_network(&self) -> bool {
        matches!(self, StepError::Smtp(e) if e.status().is_none() && !e.is_tls() && tls_failure(e).is_none())
    }

    fn into_delivery(self, phase: Phase, server: &str, step: Duration) -> DeliveryError {
        let e = match self {
            StepError::Withheld(e) => return e,
            StepError::NoStartTls => {
                return DeliveryError::Fatal(format!(
                    "{server} does not offer STARTTLS; dawnpost will not send in plain text \
                     (use smtps:// for implicit TLS, or `plaintext = true` for a local relay)"
                ));
            }
            StepError::No8BitMime => {
                return DeliveryError::Fatal(format!(
                    "{server} does not accept 8-bit content (8BITMIME)"
                ));
            }
            StepError::NoSmtpUtf8 => {
                return DeliveryError::Permanent(format!(
                    "{server} does not accept addresses beyond ASCII (SMTPUTF8)"
                ));
            }
            StepError::Deadline if phase == Phase::AwaitingReply => {
                return DeliveryError::Unknown(format!(
                    "{server}: no reply to the end of the message within {step:?}; the server \
                     may or may not have accepted it"
                ));
            }
            StepError::Deadline => {
                return DeliveryError::Transient(format!(
                    "{server}: no answer within {step:?}{}",
                    match phase {
                        Phase::Connect => " while connecting",
                        _ => "",
                    }
                ));
            }
            StepError::Smtp(e) => e,
        };
        let code = e.status().map(|c| c.to_string());
        let auth = matches!(code.as_deref(), Some("530" | "534" | "535" | "538"));
        if e.is_tls() || tls_failure(&e).is_some() {
            DeliveryError::Fatal(format!(
                "TLS with {server} failed (is its certificate trusted? see smtp.ca_file): {e}"
            ))
        } else if phase == Phase::Connect && auth {
            DeliveryError::Fatal(format!(
                "{server} refused the login (check smtp.username and the password): {e}"
            ))
        } else if e.is_client() {
            DeliveryError::Fatal(format!("cannot talk to {server} as configured: {e}"))
        } else if code.is_none() && phase == Phase::AwaitingReply {
            DeliveryError::Unknown(format!(
                "{server}: the connection failed after the end of the message ({e}); the \
                 server may or may not have accepted it"
            ))
        } else if e.is_permanent() {
            DeliveryError::Permanent(format!("{server}: {e}"))
        } else {
            DeliveryError::Transient(format!("{server}: {e}"))
        }
    }
}

/// The TLS error inside a connection error, if that is what it is.
///
/// lettre reports a failed handshake (an untrusted certificate, say) as a connection error
/// wrapping an I/O error that carries the rustls error; retrying cannot fix it.
fn tls_failure(e: &lettre::transport::smtp::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        next = err.source();
    }
    None
}

/// The envelope with every internationalised domain in its ASCII form (`bücher.example` as
/// `xn--bcher-kva.example`, RFC 5891), for a server without SMTPUTF8: such an address then
/// needs nothing of the server. A local part beyond ASCII cannot be written so, and stays.
fn ascii_domains(envelope: &Envelope) -> Envelope {
    let ascii = |a: &Address| -> Address {
        if a.domain().is_ascii() || !a.user().is_ascii() {
            return a.clone();
        }
        idna::domain_to_ascii(a.domain())
            .ok()
            .and_then(|d| Address::new(a.user(), d).ok())
            .unwrap_or_else(|| a.clone())
    };
    let to = envelope.to().iter().map(ascii).collect();
    Envelope::new(envelope.from().map(ascii), to).unwrap_or_else(|_| envelope.clone())
}

/// lettre's TLS settings for `host`, trusting `ca_pem` besides the system roots.
pub fn tls_parameters(
    host: &str,
    ca_pem: Option<&[u8]>,
) -> Result<TlsParameters, lettre::transport::smtp::Error> {
    let mut tls = TlsParameters::builder(host.to_string());
    if let Some(pem) = ca_pem {
        tls =
            tls.add_root_certificate(lettre::transport::smtp::client::Certificate::from_pem(pem)?);
    }
    tls.build_rustls()
}
