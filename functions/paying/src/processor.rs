//! The payment processor port, and its one adapter: a simulated processor that
//! answers by card number, so every outcome can be tried without a real network.
//!
//! Every call carries an idempotency key chosen by this service (`{payment_id}:authorize`,
//! `{payment_id}:capture`, ...). A processor must answer a repeated key with the
//! first answer and never act twice: that is what makes retrying a timed-out
//! call (here, or by the client under its Idempotency-Key) safe.
//!
//! Test cards of the simulated processor (any future expiry, any 3-4 digit CVC):
//!
//! | number              | outcome                                                     |
//! |---------------------|-------------------------------------------------------------|
//! | 4242 4242 4242 4242 | authorized                                                  |
//! | 4000 0000 0000 0002 | declined, `card_declined`                                   |
//! | 4000 0000 0000 9995 | declined, `insufficient_funds`                              |
//! | 4000 0000 0000 0119 | fails transiently on every attempt, `processor_unavailable` |
//! | 4000 0000 0000 0259 | fails transiently on the first attempt per key, then authorized |
//! | any other Luhn-valid number | declined, `card_not_supported`                      |
//!
//! Wallets: an email ending in `@decline.test` is declined (`wallet_declined`);
//! any other is charged at once.
//!
//! The simulator keeps its ledger in memory, per process: every Lambda instance
//! and every run of the local server has its own, while the payments they
//! made stay in the paying store. Its references carry a ULID, so no two
//! processes make the same one, and a reference of its own form that this
//! process never saw (a charge made by another instance, or before a restart)
//! is taken as the paying service's records say: captured, voided or refunded
//! as asked. The paying service checks those amounts against its store before
//! it calls, so this adds no check of its own for such charges.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::CardDetails;

/// The test cards, for the API description.
pub const TEST_CARDS: &str = "Test cards (simulated processor; any future expiry, any 3-4 digit CVC): \
`4242 4242 4242 4242` is authorized; `4000 0000 0000 0002` is declined (`card_declined`); \
`4000 0000 0000 9995` is declined (`insufficient_funds`); `4000 0000 0000 0119` fails transiently on every \
attempt (503, payment `failed`, `processor_unavailable`); `4000 0000 0000 0259` fails transiently on the first \
attempt and is then authorized (the service retries with the same processor idempotency key, so it is \
authorized once); any other Luhn-valid number is declined (`card_not_supported`). Wallet emails ending in \
`@decline.test` are declined (`wallet_declined`); others are charged at once.";

const SUCCEEDS: &str = "4242424242424242";
const DECLINED: &str = "4000000000000002";
const INSUFFICIENT_FUNDS: &str = "4000000000009995";
const ALWAYS_TRANSIENT: &str = "4000000000000119";
const FIRST_ATTEMPT_TRANSIENT: &str = "4000000000000259";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessorError {
    /// A final no, with a code for the client.
    Declined(String),
    /// The processor could not answer now; the same call may be retried with the same key.
    Transient(String),
}

#[async_trait]
pub trait Processor: Send + Sync {
    /// Reserves `amount` on a card; answers the authorization's reference.
    async fn authorize(
        &self,
        key: &str,
        card: &CardDetails,
        amount: i64,
        currency: &str,
    ) -> Result<String, ProcessorError>;
    /// Collects an authorization (all of it).
    async fn capture(&self, key: &str, reference: &str, amount: i64) -> Result<(), ProcessorError>;
    /// Cancels an authorization that was never captured.
    async fn void(&self, key: &str, reference: &str) -> Result<(), ProcessorError>;
    /// Gives back part or all of a captured charge (card or wallet).
    async fn refund(&self, key: &str, reference: &str, amount: i64) -> Result<(), ProcessorError>;
    /// Charges a wallet at once; answers the charge's reference.
    async fn charge_wallet(
        &self,
        key: &str,
        email: &str,
        amount: i64,
        currency: &str,
    ) -> Result<String, ProcessorError>;
}

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    /// Doubled after each failed attempt.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 3, first_backoff: Duration::from_millis(50) }
    }
}

impl RetryPolicy {
    /// Runs `call` until it answers anything but a transient failure, or the
    /// attempts run out. The caller passes the same idempotency key every time.
    pub async fn run<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, ProcessorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProcessorError>>,
    {
        let mut backoff = self.first_backoff;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(ProcessorError::Transient(why)) if attempt < self.attempts => {
                    tracing::info!(what, attempt, %why, "processor call failed; retrying with the same key");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Authorization {
    amount: i64,
    captured: i64,
    refunded: i64,
    voided: bool,
}

#[derive(Default)]
struct Ledger {
    /// The answer given for each idempotency key.
    answers: HashMap<String, Result<String, ProcessorError>>,
    /// Calls seen per key, including transient failures.
    attempts: HashMap<String, u32>,
    /// Authorizations and wallet charges by reference.
    charges: HashMap<String, Authorization>,
}

impl Ledger {
    fn remember(&mut self, key: &str, answer: Result<String, ProcessorError>) -> Result<String, ProcessorError> {
        // Transient failures are not answers: the next call with the key tries again.
        if !matches!(answer, Err(ProcessorError::Transient(_))) {
            self.answers.insert(key.to_string(), answer.clone());
        }
        answer
    }

    fn new_charge(&mut self, prefix: &str, amount: i64) -> String {
        let reference = shared::ids::new_id(&format!("{prefix}-sim"));
        self.charges.insert(reference.clone(), Authorization { amount, captured: 0, refunded: 0, voided: false });
        reference
    }

    /// The charge `reference` names: this process's own, or one another process
    /// of this simulator made (as the paying store knows it, the simulator
    /// takes it at the amounts asked). `None` for a reference it never issues.
    fn charge_mut(&mut self, reference: &str, amount: i64, captured: i64) -> Option<&mut Authorization> {
        let issued = ["auth-sim", "wallet-sim"].iter().any(|prefix| shared::ids::has_prefix(reference, prefix));
        if !issued {
            return None;
        }
        Some(self.charges.entry(reference.to_string()).or_insert(Authorization {
            amount,
            captured,
            refunded: 0,
            voided: false,
        }))
    }
}

/// The simulated processor. It keeps its ledger in memory, like a real
/// processor's on its side; tests read it to prove nothing was charged twice.
#[derive(Default)]
pub struct SimulatedProcessor {
    ledger: Mutex<Ledger>,
}

impl SimulatedProcessor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Authorizations and wallet charges made, each counted once however often its key was retried.
    pub fn charges(&self) -> usize {
        self.ledger.lock().map(|l| l.charges.len()).unwrap_or_default()
    }

    /// How many calls were made with `key`, failed ones included.
    pub fn attempts(&self, key: &str) -> u32 {
        self.ledger.lock().ok().and_then(|l| l.attempts.get(key).copied()).unwrap_or_default()
    }

    /// What the processor holds for a charge: (amount, captured, refunded, voided).
    pub fn charge(&self, reference: &str) -> Option<(i64, i64, i64, bool)> {
        let ledger = self.ledger.lock().ok()?;
        ledger.charges.get(reference).map(|a| (a.amount, a.captured, a.refunded, a.voided))
    }

    fn with_ledger<T>(
        &self,
        key: &str,
        act: impl FnOnce(&mut Ledger, u32) -> Result<T, ProcessorError>,
    ) -> Result<T, ProcessorError> {
        let mut ledger =
            self.ledger.lock().map_err(|_| ProcessorError::Transient("the simulated processor is broken".into()))?;
        let attempt = {
            let count = ledger.attempts.entry(key.to_string()).or_default();
            *count += 1;
            *count
        };
        act(&mut ledger, attempt)
    }

    /// The answer to a key already answered, for calls that change a charge.
    fn settled(ledger: &Ledger, key: &str) -> Option<Result<(), ProcessorError>> {
        ledger.answers.get(key).map(|a| a.clone().map(|_| ()))
    }
}

#[async_trait]
impl Processor for SimulatedProcessor {
    async fn authorize(
        &self,
        key: &str,
        card: &CardDetails,
        amount: i64,
        _currency: &str,
    ) -> Result<String, ProcessorError> {
        self.with_ledger(key, |ledger, attempt| {
            if let Some(answer) = ledger.answers.get(key) {
                return answer.clone();
            }
            let answer = match card.number() {
                SUCCEEDS => Ok(ledger.new_charge("auth", amount)),
                DECLINED => Err(ProcessorError::Declined("card_declined".into())),
                INSUFFICIENT_FUNDS => Err(ProcessorError::Declined("insufficient_funds".into())),
                ALWAYS_TRANSIENT => Err(ProcessorError::Transient("processor_unavailable".into())),
                FIRST_ATTEMPT_TRANSIENT if attempt == 1 => {
                    Err(ProcessorError::Transient("processor_unavailable".into()))
                }
                FIRST_ATTEMPT_TRANSIENT => Ok(ledger.new_charge("auth", amount)),
                _ => Err(ProcessorError::Declined("card_not_supported".into())),
            };
            ledger.remember(key, answer)
        })
    }

    async fn capture(&self, key: &str, reference: &str, amount: i64) -> Result<(), ProcessorError> {
        self.with_ledger(key, |ledger, _| {
            if let Some(answer) = Self::settled(ledger, key) {
                return answer;
            }
            let answer = match ledger.charge_mut(reference, amount, 0) {
                Some(a) if !a.voided && a.captured == 0 && amount <= a.amount => {
                    a.captured = amount;
                    Ok(String::new())
                }
                Some(_) => Err(ProcessorError::Declined("capture_not_allowed".into())),
                None => Err(ProcessorError::Declined("unknown_authorization".into())),
            };
            ledger.remember(key, answer).map(|_| ())
        })
    }

    async fn void(&self, key: &str, reference: &str) -> Result<(), ProcessorError> {
        self.with_ledger(key, |ledger, _| {
            if let Some(answer) = Self::settled(ledger, key) {
                return answer;
            }
            let answer = match ledger.charge_mut(reference, 0, 0) {
                Some(a) if a.captured == 0 => {
                    a.voided = true;
                    Ok(String::new())
                }
                Some(_) => Err(ProcessorError::Declined("already_captured".into())),
                None => Err(ProcessorError::Declined("unknown_authorization".into())),
            };
            ledger.remember(key, answer).map(|_| ())
        })
    }

    async fn refund(&self, key: &str, reference: &str, amount: i64) -> Result<(), ProcessorError> {
        self.with_ledger(key, |ledger, _| {
            if let Some(answer) = Self::settled(ledger, key) {
                return answer;
            }
            let answer = match ledger.charge_mut(reference, i64::MAX, i64::MAX) {
                Some(a) if amount > 0 && a.refunded.saturating_add(amount) <= a.captured => {
                    a.refunded += amount;
                    Ok(String::new())
                }
                Some(_) => Err(ProcessorError::Declined("refund_exceeds_capture".into())),
                None => Err(ProcessorError::Declined("unknown_charge".into())),
            };
            ledger.remember(key, answer).map(|_| ())
        })
    }

    async fn charge_wallet(
        &self,
        key: &str,
        email: &str,
        amount: i64,
        _currency: &str,
    ) -> Result<String, ProcessorError> {
        self.with_ledger(key, |ledger, _| {
            if let Some(answer) = ledger.answers.get(key) {
                return answer.clone();
            }
            let answer = if email.to_ascii_lowercase().ends_with("@decline.test") {
                Err(ProcessorError::Declined("wallet_declined".into()))
            } else {
                let reference = ledger.new_charge("wallet", amount);
                if let Some(charge) = ledger.charges.get_mut(&reference) {
                    charge.captured = amount;
                }
                Ok(reference)
            };
            ledger.remember(key, answer)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(number: &str) -> CardDetails {
        CardDetails::test_card(number)
    }

    #[tokio::test]
    async fn answers_by_card_number_and_once_per_key() {
        let p = SimulatedProcessor::new();
        let ok = p.authorize("k1", &card(SUCCEEDS), 500, "USD").await.unwrap();
        assert_eq!(p.authorize("k1", &card(SUCCEEDS), 500, "USD").await.unwrap(), ok, "a repeated key is a replay");
        assert_eq!(p.charges(), 1);
        assert_eq!(
            p.authorize("k2", &card(DECLINED), 5, "USD").await,
            Err(ProcessorError::Declined("card_declined".into()))
        );
        assert_eq!(
            p.authorize("k3", &card(INSUFFICIENT_FUNDS), 5, "USD").await,
            Err(ProcessorError::Declined("insufficient_funds".into()))
        );
        assert_eq!(
            p.authorize("k4", &card("5555555555554444"), 5, "USD").await,
            Err(ProcessorError::Declined("card_not_supported".into()))
        );
        for _ in 0..3 {
            assert!(matches!(
                p.authorize("k5", &card(ALWAYS_TRANSIENT), 5, "USD").await,
                Err(ProcessorError::Transient(_))
            ));
        }
        assert!(matches!(
            p.authorize("k6", &card(FIRST_ATTEMPT_TRANSIENT), 5, "USD").await,
            Err(ProcessorError::Transient(_))
        ));
        assert!(p.authorize("k6", &card(FIRST_ATTEMPT_TRANSIENT), 5, "USD").await.is_ok());
        assert_eq!((p.attempts("k6"), p.charges()), (2, 2));

        p.capture("c1", &ok, 500).await.unwrap();
        p.capture("c1", &ok, 500).await.unwrap();
        assert_eq!(p.charge(&ok), Some((500, 500, 0, false)));
        p.refund("r1", &ok, 200).await.unwrap();
        p.refund("r1", &ok, 200).await.unwrap();
        assert_eq!(p.charge(&ok), Some((500, 500, 200, false)), "a retried refund is not paid twice");
        assert!(matches!(p.refund("r2", &ok, 301).await, Err(ProcessorError::Declined(_))));
        assert!(matches!(p.void("v1", &ok).await, Err(ProcessorError::Declined(_))));
        assert!(matches!(p.refund("r3", "auth-sim_000001", 1).await, Err(ProcessorError::Declined(_))));
    }

    /// Another Lambda instance, or the local server after a restart: a new
    /// ledger, and the charges the paying store holds still settle.
    #[tokio::test]
    async fn charges_made_by_another_process_still_settle() {
        let (first, second) = (SimulatedProcessor::new(), SimulatedProcessor::new());
        let captured = first.authorize("a1", &card(SUCCEEDS), 900, "USD").await.unwrap();
        first.capture("c1", &captured, 900).await.unwrap();
        let authorized = first.authorize("a2", &card(SUCCEEDS), 400, "USD").await.unwrap();
        let wallet = first.charge_wallet("w1", "a@shop.test", 300, "USD").await.unwrap();
        let fresh = second.authorize("a3", &card(SUCCEEDS), 100, "USD").await.unwrap();
        assert!(![&captured, &authorized, &wallet].contains(&&fresh), "references never repeat across processes");

        second.refund("r1", &captured, 400).await.unwrap();
        second.refund("r1", &captured, 400).await.unwrap();
        assert_eq!(second.charge(&captured).map(|c| c.2), Some(400), "a retried refund is still paid once");
        second.refund("r2", &wallet, 300).await.unwrap();
        second.void("v1", &authorized).await.unwrap();
        assert!(matches!(second.capture("c2", &authorized, 400).await, Err(ProcessorError::Declined(_))), "voided");
        assert!(matches!(second.refund("r3", "ch_elsewhere", 1).await, Err(ProcessorError::Declined(_))));
    }

    #[tokio::test]
    async fn retries_use_the_same_call_until_it_answers() {
        let p = SimulatedProcessor::new();
        let policy = RetryPolicy { attempts: 3, first_backoff: Duration::from_millis(1) };
        let c = card(FIRST_ATTEMPT_TRANSIENT);
        assert!(policy.run("authorize", || p.authorize("key", &c, 10, "USD")).await.is_ok());
        assert_eq!((p.attempts("key"), p.charges()), (2, 1));
        let c = card(ALWAYS_TRANSIENT);
        assert!(matches!(
            policy.run("authorize", || p.authorize("bad", &c, 10, "USD")).await,
            Err(ProcessorError::Transient(_))
        ));
        assert_eq!(p.attempts("bad"), 3);
        assert!(p.charge_wallet("w", "a@decline.test", 5, "USD").await.is_err());
        let reference = p.charge_wallet("w2", "a@shop.test", 5, "USD").await.unwrap();
        assert_eq!(p.charge(&reference), Some((5, 5, 0, false)));
    }
}
