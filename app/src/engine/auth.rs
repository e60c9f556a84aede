//! Sign-in and credentials: users with Argon2id password hashes, session tokens (only their
//! SHA-256 stored), API keys (`pe_<prefix>_<secret>`, shown once, stored as SHA-256, revocable),
//! login rate limits per account and per IP, and the activity log as the owner browses it. Turns
//! a session token or an API key into the [`Caller`] every other use case takes. It must never log
//! a password, a session token or an API key.

use super::access::{self, Activity, Caller, Principal, StudioScope, NOTHING};
use super::db::{self, DbTransaction};
use super::{db_error, now, Engine};
use crate::domain::{
    ActivityEntry, ApiKeyId, ApiKeyInfo, ApiKeyRequest, ApiScope, AppError, BusinessId,
    CreatedApiKey, EmployeeId, FieldProblem, Language, Me, Permission, Problem, Role, SignInLimit,
    StudioId, UserId, UserInfo, UserRequest,
};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{Output, PasswordHash, Salt, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Shortest accepted password (NIST SP 800-63B asks for at least 8; 12 for accounts that move
/// money).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Longest API key name, in characters: a name says what uses the key, in a list of keys.
pub const MAX_KEY_NAME_CHARS: usize = 100;

/// Login attempt limits (per instance, in memory).
#[derive(Clone, Debug)]
pub struct LoginLimits {
    /// Attempts one account may make at once before waiting.
    pub per_account_burst: u32,
    /// One more attempt for the account per this period.
    pub per_account_period: Duration,
    /// Attempts one IP address may make at once (a desk PC signs in several people).
    pub per_ip_burst: u32,
    /// One more attempt for the IP per this period.
    pub per_ip_period: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_account_burst: 5,
            per_account_period: Duration::from_secs(60),
            per_ip_burst: 20,
            per_ip_period: Duration::from_secs(6),
        }
    }
}

/// The keyed rate limiters of sign-in (governor's GCRA).
pub struct LoginLimiter {
    accounts: DefaultKeyedRateLimiter<String>,
    ips: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(burst: u32, period: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period.max(Duration::from_millis(1)))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl LoginLimiter {
    /// Limiters with `limits`.
    pub fn new(limits: &LoginLimits) -> LoginLimiter {
        LoginLimiter {
            accounts: RateLimiter::keyed(quota(
                limits.per_account_burst,
                limits.per_account_period,
            )),
            ips: RateLimiter::keyed(quota(limits.per_ip_burst, limits.per_ip_period)),
        }
    }

    /// Counts one attempt for `email` from `ip`.
    ///
    /// Errors: 429 `too_many_login_attempts` saying which limit and how many seconds to wait.
    fn check(&self, email: &str, ip: Option<IpAddr>) -> Result<(), AppError> {
        let clock = DefaultClock::default();
        let refuse = |wait: Duration, limit: SignInLimit| {
            let seconds = wait.as_secs() + 1;
            tracing::warn!(?limit, seconds, "login rate limit reached");
            AppError::denied_with(429, Problem::TooManySignInAttempts { limit, seconds })
        };
        if let Some(ip) = ip {
            self.ips.check_key(&ip).map_err(|not_until| {
                refuse(
                    not_until.wait_time_from(clock.now()),
                    SignInLimit::ThisComputer,
                )
            })?;
        }
        self.accounts
            .check_key(&email.to_lowercase())
            .map_err(|not_until| {
                refuse(
                    not_until.wait_time_from(clock.now()),
                    SignInLimit::ThisAccount,
                )
            })?;
        Ok(())
    }
}

/// A fresh random token: 32 bytes from the operating system's CSPRNG, as 64 hex digits.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// The Argon2id cost: m = 7 MiB, t = 5, p = 1, one of OWASP's equivalent recommendations
/// (Password Storage Cheat Sheet: "m=7168 (7 MiB), t=5, p=1"). The crate's default (19 MiB,
/// t=2) is as strong but needs almost three times the memory per sign-in.
fn argon2() -> Argon2<'static> {
    // These constants are within Argon2's bounds, so `new` cannot fail; were they ever edited
    // out of bounds, the crate's default (stronger: 19 MiB, t=2) would be used, not a weaker one.
    let params = argon2::Params::new(7 * 1024, 5, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// A job for the password hasher thread.
type HashJob = Box<dyn FnOnce() + Send>;

/// The one thread that hashes and verifies passwords, one at a time. One thread, not the blocking
/// pool: each hash needs its 7 MiB, and on a thread of its own that memory is reused from hash to
/// hash instead of being kept by a different allocator arena on every pool thread; and a burst of
/// sign-ins from many addresses queues here instead of taking every core and growing the memory.
fn password_hasher() -> &'static std::sync::mpsc::Sender<HashJob> {
    static HASHER: std::sync::OnceLock<std::sync::mpsc::Sender<HashJob>> =
        std::sync::OnceLock::new();
    HASHER.get_or_init(|| {
        let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
        let started = std::thread::Builder::new()
            .name("password-hasher".into())
            .spawn(move || {
                for job in queue {
                    job();
                }
            });
        if let Err(error) = started {
            // The queue's receiver is gone with the closure: every hash then fails with a 500.
            tracing::error!(%error, "cannot start the password hasher thread");
        }
        jobs
    })
}

/// Runs `work` (a hash or a verification) on the password hasher thread.
///
/// Errors: 500 when the hasher thread is not running.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let failed = || {
        tracing::error!("the password hasher thread is not running");
        AppError::Internal {
            message: "cannot check the password; it is logged on the server".into(),
        }
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    password_hasher()
        .send(Box::new(move || {
            if reply.send(work()).is_err() {
                tracing::warn!("a sign-in stopped waiting for its password check");
            }
        }))
        .map_err(|_| failed())?;
    answer.await.map_err(|_| failed())
}

/// Blocks (1 KiB each) reserved for Argon2's working memory: 33 MiB, above glibc's largest mmap
/// threshold (32 MiB on 64-bit), so the memory is a mapping of its own that goes back to the
/// system when the hash is done. Only the blocks the cost asks for (7 MiB) are ever touched.
/// Through the crate's own allocation the 7 MiB stayed in the hashing thread's arena for good
/// (measured with `/proc/self/status`: the second hash's memory was never returned).
const RESERVED_BLOCKS: usize = 33 * 1024;

/// The Argon2 output of `password` with `salt` under `argon` (whose cost is `params`), computed in
/// memory that is returned to the system afterwards (see [`RESERVED_BLOCKS`]).
fn argon2_output(
    argon: &Argon2<'_>,
    params: &argon2::Params,
    password: &[u8],
    salt: Salt<'_>,
) -> Result<Output, argon2::password_hash::Error> {
    let mut salt_buffer = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buffer)?;
    let length = params
        .output_len()
        .unwrap_or(argon2::Params::DEFAULT_OUTPUT_LEN);
    let mut blocks: Vec<argon2::Block> =
        Vec::with_capacity(RESERVED_BLOCKS.max(params.block_count()));
    blocks.resize(params.block_count(), argon2::Block::default());
    Output::init_with(length, |out| {
        Ok(argon.hash_password_into_with_memory(password, salt, out, &mut blocks)?)
    })
}

/// Hashes a password as an Argon2id PHC string ([`argon2`]'s cost), on the hashing thread.
///
/// Errors: 500 when hashing fails.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        let argon = argon2();
        let params = argon.params().clone();
        let output = argon2_output(&argon, &params, password.as_bytes(), salt.as_salt())?;
        Ok::<_, argon2::password_hash::Error>(
            PasswordHash {
                algorithm: argon2::Algorithm::Argon2id.ident(),
                version: Some(argon2::Version::V0x13.into()),
                params: argon2::password_hash::ParamsString::try_from(&params)?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            }
            .to_string(),
        )
    })
    .await?
    .map_err(|error| {
        tracing::error!(%error, "password hashing failed");
        AppError::Internal {
            message: "cannot hash the password; it is logged on the server".into(),
        }
    })
}

/// Whether `password` matches the stored PHC `hash`, computed with the algorithm, version and cost
/// stored in it and compared in constant time (`Output`'s equality), on the hashing thread. A
/// malformed stored hash is logged and counts as no match.
async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    hashing(move || {
        let matches = || -> Result<bool, argon2::password_hash::Error> {
            let stored = PasswordHash::new(&hash)?;
            let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
                return Err(argon2::password_hash::Error::PhcStringField);
            };
            let params = argon2::Params::try_from(&stored)?;
            // No version in the PHC string: 0x13, as the argon2 crate's own verification reads it
            // (every hash this engine writes carries `v=19`).
            let version = stored
                .version
                .map(argon2::Version::try_from)
                .transpose()?
                .unwrap_or_default();
            let argon = Argon2::new(
                argon2::Algorithm::try_from(stored.algorithm)?,
                version,
                params.clone(),
            );
            Ok(argon2_output(&argon, &params, password.as_bytes(), salt)? == expected)
        };
        matches().unwrap_or_else(|error| {
            tracing::error!(%error, "a stored password hash is malformed");
            false
        })
    })
    .await
}

/// A hash of a password nobody has, verified when the email is unknown so that an unknown
/// account takes as long to refuse as a wrong password (no account enumeration by timing).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=7168,t=5,p=1$c29tZXNhbHRzb21lc2FsdA$Jm9V0oSxWcXwQ4JqU0bW0w0q0Qm7QeM0xU0m6l2m0bE";

/// A new session: the cookie value (shown to nobody but the browser) and who signed in.
pub struct NewSession {
    /// The token for the session cookie.
    pub token: String,
    /// When the session ends (UTC).
    pub expires_at: DateTime<Utc>,
    /// The signed-in person.
    pub me: Me,
}

#[derive(sqlx::FromRow)]
struct Account {
    id: UserId,
    business_id: BusinessId,
    email: String,
    name: String,
    role: Role,
    studio_id: Option<StudioId>,
    employee_id: Option<EmployeeId>,
    #[sqlx(rename = "locale")]
    language: Option<Language>,
}

/// How long a business's studio list read for one request serves later requests. Studios are
/// only ever added (never moved or deleted), so a stale list can only lack a studio created in
/// the last seconds by another process (the command line's `demo`/`replay`, another instance);
/// this process's own additions call [`Engine::studios_changed`].
const STUDIO_LIST_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The studio lists of the businesses whose callers were seen recently. Without it every
/// request of an owner or API key read all of the business's studios (500 rows per request for
/// a platform hosting 500 merchants), which was the largest cost of single-event ingestion.
#[derive(Default)]
pub(crate) struct StudioDirectory {
    lists: std::sync::Mutex<StudioLists>,
}

/// Each business's studios and when they were read.
type StudioLists = HashMap<BusinessId, (std::time::Instant, Arc<[StudioId]>)>;

impl StudioDirectory {
    fn lists(&self) -> std::sync::MutexGuard<'_, StudioLists> {
        // A panic while holding the lock cannot leave the map half-written (one insert or
        // clear), so the data stays usable.
        self.lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How long this process answers an API key from memory before reading its row again. A
/// revocation in this process takes effect at once ([`Engine::revoke_api_key`] forgets every
/// key; only a request that read the row just before the revocation committed can still
/// remember it), one made by another server instance within this time. Short, because a
/// revoked key is a security matter; long enough that a busy key's row is read a few times a
/// second at most.
const API_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Most keys remembered; past that the memory is emptied and refills with the keys in use.
const API_KEYS_REMEMBERED: usize = 10_000;

/// The API keys seen recently, by the SHA-256 of the key: a busy integration (a payment
/// provider delivering one event per request, 64 at a time) otherwise read its key's row on
/// every request. Only keys that exist are remembered, so unknown keys cannot fill it.
#[derive(Default)]
pub(crate) struct ApiKeyDirectory {
    keys: std::sync::Mutex<HashMap<Vec<u8>, (std::time::Instant, KnownApiKey)>>,
}

/// What a request needs of a live API key's row.
#[derive(Clone)]
struct KnownApiKey {
    id: ApiKeyId,
    business_id: BusinessId,
    name: String,
    role: Role,
    studio_id: Option<StudioId>,
    scopes: Vec<ApiScope>,
}

impl ApiKeyDirectory {
    fn keys(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, (std::time::Instant, KnownApiKey)>> {
        // A panic while holding the lock cannot leave the map half-written (one insert, remove
        // or clear), so the data stays usable.
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key with this hash, if it was read less than [`API_KEY_TTL`] ago.
    fn get(&self, hash: &[u8]) -> Option<KnownApiKey> {
        self.keys()
            .get(hash)
            .filter(|(read_at, _)| read_at.elapsed() < API_KEY_TTL)
            .map(|(_, key)| key.clone())
    }

    fn remember(&self, hash: Vec<u8>, key: KnownApiKey) {
        let mut keys = self.keys();
        if keys.len() >= API_KEYS_REMEMBERED {
            keys.clear();
        }
        keys.insert(hash, (std::time::Instant::now(), key));
    }

    fn forget_all(&self) {
        self.keys().clear();
    }
}

impl Engine {
    /// The studios of `business`, sorted by name; at most [`STUDIO_LIST_TTL`] old.
    async fn studios_of(&self, business: BusinessId) -> Result<Arc<[StudioId]>, AppError> {
        if let Some((read_at, studios)) = self.studio_directory.lists().get(&business) {
            if read_at.elapsed() < STUDIO_LIST_TTL {
                return Ok(Arc::clone(studios));
            }
        }
        let studios: Arc<[StudioId]> =
            db::query_scalar("SELECT id FROM studios WHERE business_id = $1 ORDER BY name")
                .bind(business)
                .fetch_all(self.pool())
                .await
                .map_err(db_error("reading the business's studios"))?
                .into();
        self.studio_directory
            .lists()
            .insert(business, (std::time::Instant::now(), Arc::clone(&studios)));
        Ok(studios)
    }

    /// Forgets the cached studio lists: call after adding studios, so this process's callers
    /// see them at once.
    pub fn studios_changed(&self) {
        self.studio_directory.lists().clear();
    }

    /// The caller a user acts as: an owner sees their business's studios; a receptionist their
    /// studio; an employee their own data in their studio.
    async fn caller_of(&self, account: &Account) -> Result<(Caller, Me), AppError> {
        let role = account.role;
        let (studios, employee) = match role {
            Role::Owner => (self.studios_of(account.business_id).await?, None),
            Role::Receptionist => (account.studio_id.into_iter().collect(), None),
            Role::Employee => {
                let studio: Option<StudioId> =
                    db::query_scalar("SELECT studio_id FROM employees WHERE id = $1")
                        .bind(account.employee_id)
                        .fetch_optional(self.pool())
                        .await
                        .map_err(db_error("reading the employee's studio"))?;
                (studio.into_iter().collect(), account.employee_id)
            }
        };
        let caller = Caller {
            principal: Principal::User {
                id: account.id,
                email: account.email.clone(),
            },
            role,
            business_id: Some(account.business_id),
            studios: StudioScope::Only(studios),
            employee,
            scopes: None,
        };
        let me = Me {
            email: account.email.clone(),
            name: account.name.clone(),
            role,
            studio_id: account.studio_id,
            employee_id: account.employee_id,
            language: account.language,
        };
        Ok((caller, me))
    }

    /// Signs a person in: checks the rate limits, the password (Argon2id), and opens a session.
    ///
    /// Errors: 429 `too_many_login_attempts` (per account and per IP); 401 `invalid_credentials`
    /// for an unknown email, a wrong password or a deactivated user (the same message for all,
    /// so an attacker learns nothing about which accounts exist).
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<NewSession, AppError> {
        let email = email.trim();
        self.login_limiter.check(email, ip)?;
        #[derive(sqlx::FromRow)]
        struct Stored {
            #[sqlx(flatten)]
            account: Account,
            password_hash: String,
            active: bool,
        }
        let stored = db::query_as::<Stored>(
            "SELECT id, business_id, email, name, role, studio_id, employee_id, locale,
                    password_hash, active
             FROM users WHERE lower(email) = lower($1)",
        )
        .bind(email)
        .fetch_optional(self.pool())
        .await
        .map_err(db_error("looking up the account"))?;
        let hash = stored
            .as_ref()
            .map_or(DUMMY_HASH, |stored| stored.password_hash.as_str());
        let matches = verify_password(password.to_string(), hash.to_string()).await?;
        let account = match stored {
            Some(stored) if matches && stored.active => stored.account,
            Some(_) | None => {
                tracing::info!(?ip, "sign-in refused: wrong email or password");
                return Err(AppError::denied_with(401, Problem::InvalidCredentials));
            }
        };
        let (caller, me) = self.caller_of(&account).await?;
        let token = random_token();
        let expires_at = now()
            + chrono::Duration::from_std(self.settings().session_ttl)
                .unwrap_or(chrono::Duration::hours(12));
        let mut tx = self.begin_write().await?;
        db::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(sha256(&token))
        .bind(account.id)
        .bind(now())
        .bind(expires_at)
        .bind(ip.map(|ip| ip.to_string()))
        .bind(user_agent.map(|agent| agent.chars().take(200).collect::<String>()))
        .execute(&mut tx)
        .await
        .map_err(db_error("opening the session"))?;
        access::record(
            &mut tx,
            &caller,
            Activity {
                action: "session.login",
                entity_type: "user",
                entity_id: Some(account.id.to_string()),
                studio_id: account.studio_id,
                idempotency_key: None,
            },
            NOTHING,
            Some(
                &serde_json::json!({ "ip": ip.map(|ip| ip.to_string()), "expires_at": expires_at }),
            ),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the session"))?;
        tracing::info!(user_id = %account.id, role = %me.role, "signed in");
        Ok(NewSession {
            token,
            expires_at,
            me,
        })
    }

    /// Ends the session of `token` (idempotent: an unknown or ended session is a no-op).
    ///
    /// Errors: a database error.
    pub async fn logout(&self, token: &str) -> Result<(), AppError> {
        let Some((caller, _)) = self.session_caller(token).await? else {
            return Ok(());
        };
        let mut tx = self.begin_write().await?;
        db::query(
            "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(sha256(token))
        .bind(now())
        .execute(&mut tx)
        .await
        .map_err(db_error("ending the session"))?;
        access::record(
            &mut tx,
            &caller,
            Activity {
                action: "session.logout",
                entity_type: "user",
                entity_id: None,
                studio_id: None,
                idempotency_key: None,
            },
            NOTHING,
            NOTHING,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the sign-out"))?;
        Ok(())
    }

    /// The caller of a live session (not expired, not revoked, user active), or `None`.
    ///
    /// Errors: a database error.
    pub async fn session_caller(&self, token: &str) -> Result<Option<(Caller, Me)>, AppError> {
        let account = db::query_as::<Account>(
            "SELECT u.id, u.business_id, u.email, u.name, u.role, u.studio_id, u.employee_id,
                    u.locale
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.active",
        )
        .bind(sha256(token))
        .bind(now())
        .fetch_optional(self.pool())
        .await
        .map_err(db_error("reading the session"))?;
        match account {
            Some(account) => Ok(Some(self.caller_of(&account).await?)),
            None => Ok(None),
        }
    }

    /// The caller of an API key (`pe_<prefix>_<secret>`), or `None` when unknown or revoked;
    /// the key's row as read at most [`API_KEY_TTL`] ago.
    ///
    /// Errors: a database error.
    pub async fn api_key_caller(&self, key: &str) -> Result<Option<Caller>, AppError> {
        let hash = sha256(key.trim());
        let known = match self.api_keys.get(&hash) {
            Some(known) => known,
            None => match self.read_api_key(&hash).await? {
                Some(known) => {
                    self.api_keys.remember(hash, known.clone());
                    known
                }
                None => return Ok(None),
            },
        };
        let studios = match known.role {
            Role::Receptionist => known.studio_id.into_iter().collect(),
            Role::Owner | Role::Employee => self.studios_of(known.business_id).await?,
        };
        Ok(Some(Caller {
            principal: Principal::ApiKey {
                id: known.id,
                name: known.name,
            },
            role: known.role,
            business_id: Some(known.business_id),
            studios: StudioScope::Only(studios),
            employee: None,
            scopes: Some(known.scopes),
        }))
    }

    /// The live (unrevoked) API key whose SHA-256 is `hash`, from its row; records its use
    /// (at most once a minute).
    ///
    /// Errors: a database error; 500 for unreadable stored scopes.
    async fn read_api_key(&self, hash: &[u8]) -> Result<Option<KnownApiKey>, AppError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: ApiKeyId,
            business_id: BusinessId,
            name: String,
            role: Role,
            studio_id: Option<StudioId>,
            scopes: sqlx::types::Json<serde_json::Value>,
            last_used_at: Option<DateTime<Utc>>,
        }
        let row = db::query_as::<Row>(
            "SELECT id, business_id, name, role, studio_id, scopes, last_used_at
             FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash.to_vec())
        .fetch_optional(self.pool())
        .await
        .map_err(db_error("reading the API key"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let scopes: Vec<ApiScope> = serde_json::from_value(row.scopes.0).map_err(|error| {
            tracing::error!(%error, key_id = %row.id, "an API key's stored scopes are unreadable");
            AppError::Internal {
                message: "this API key's scopes are unreadable; it is logged on the server".into(),
            }
        })?;
        // Write the last use at most once a minute: a write per request would contend for
        // SQLite's write lock with the payouts.
        let stale = row
            .last_used_at
            .is_none_or(|at| now() - at > chrono::Duration::minutes(1));
        if stale {
            db::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                .bind(row.id)
                .bind(now())
                .execute(self.pool())
                .await
                .map_err(db_error("recording the API key's use"))?;
        }
        Ok(Some(KnownApiKey {
            id: row.id,
            business_id: row.business_id,
            name: row.name,
            role: row.role,
            studio_id: row.studio_id,
            scopes,
        }))
    }

    /// The business a new credential belongs to: the caller's, else (the operator) the studio's,
    /// else the only business there is.
    async fn business_for(
        &self,
        caller: &Caller,
        studio: Option<StudioId>,
    ) -> Result<BusinessId, AppError> {
        if let Some(business) = caller.business_id {
            return Ok(business);
        }
        let found: Option<BusinessId> = match studio {
            Some(studio) => db::query_scalar("SELECT business_id FROM studios WHERE id = $1")
                .bind(studio)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error("reading the studio's business"))?
                .flatten(),
            None => {
                let all: Vec<BusinessId> = db::query_scalar("SELECT id FROM businesses LIMIT 2")
                    .fetch_all(self.pool())
                    .await
                    .map_err(db_error("reading the businesses"))?;
                match all.as_slice() {
                    [only] => Some(*only),
                    _ => None,
                }
            }
        };
        found.ok_or_else(|| {
            AppError::validation(
                "studio_id",
                "cannot tell which business this is for: create the studios first (seed-demo), or name a studio",
            )
        })
    }

    /// Creates an API key; the key is in the result and is never shown again.
    ///
    /// Errors: 403 unless the caller may manage API keys; 422 for an empty name, a receptionist
    /// key without a studio (or an owner key with one), a studio outside the caller's business,
    /// a scope the role does not allow.
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        request: &ApiKeyRequest,
    ) -> Result<CreatedApiKey, AppError> {
        caller.require(Permission::ManageApiKeys)?;
        let name = request.name.trim();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME_CHARS {
            return Err(AppError::invalid(
                "name",
                FieldProblem::KeyNameLength {
                    max_chars: MAX_KEY_NAME_CHARS,
                },
            ));
        }
        match (request.role, request.studio_id) {
            (Role::Receptionist, None) => {
                return Err(AppError::invalid(
                    "studio_id",
                    FieldProblem::ReceptionistKeyNeedsStudio,
                ))
            }
            (Role::Owner, Some(_)) => {
                return Err(AppError::invalid(
                    "studio_id",
                    FieldProblem::OwnerKeyCoversAllStudios,
                ))
            }
            (Role::Employee, _) => {
                return Err(AppError::invalid("role", FieldProblem::KeyForEmployee))
            }
            (Role::Owner, None) | (Role::Receptionist, Some(_)) => {}
        }
        if let Some(studio) = request.studio_id {
            if !caller.sees_studio(studio) {
                return Err(AppError::invalid(
                    "studio_id",
                    FieldProblem::UnknownStudio { id: studio },
                ));
            }
            let exists: Option<bool> = db::query_scalar("SELECT TRUE FROM studios WHERE id = $1")
                .bind(studio)
                .fetch_optional(self.pool())
                .await
                .map_err(db_error("looking up the studio"))?;
            if exists.is_none() {
                return Err(AppError::invalid(
                    "studio_id",
                    FieldProblem::UnknownStudio { id: studio },
                ));
            }
        }
        let allowed = ApiScope::granted_to(request.role);
        let mut scopes = request.scopes.clone().unwrap_or_else(|| allowed.clone());
        scopes.sort();
        scopes.dedup();
        if let Some(beyond) = scopes.iter().find(|scope| !allowed.contains(scope)) {
            return Err(AppError::invalid(
                "scopes",
                FieldProblem::ScopeBeyondRole {
                    role: request.role,
                    scope: *beyond,
                },
            ));
        }
        let business = self.business_for(caller, request.studio_id).await?;
        let prefix = random_token()[..8].to_string();
        let key = format!("pe_{prefix}_{}", random_token());
        let id = ApiKeyId::generate();
        let mut tx = self.begin_write().await?;
        db::query(
            "INSERT INTO api_keys (id, business_id, name, prefix, key_hash, role, studio_id, scopes,
                                   created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(business)
        .bind(name)
        .bind(&prefix)
        .bind(sha256(&key))
        .bind(request.role.as_str())
        .bind(request.studio_id)
        .bind(sqlx::types::Json(&scopes))
        .bind(now())
        .bind(caller.actor_label())
        .execute(&mut tx)
        .await
        .map_err(db_error("saving the API key"))?;
        let info = api_key_in(&mut tx, id).await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "api_key.create",
                entity_type: "api_key",
                entity_id: Some(id.to_string()),
                studio_id: request.studio_id,
                idempotency_key: None,
            },
            NOTHING,
            Some(&serde_json::json!({ "name": name, "prefix": prefix, "role": request.role, "scopes": scopes })),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the API key"))?;
        tracing::info!(key_id = %id, %prefix, role = %request.role, "API key created");
        Ok(CreatedApiKey { info, key })
    }

    /// The API keys of the caller's business, newest first.
    ///
    /// Errors: 403 unless the caller may manage API keys.
    pub async fn api_keys(&self, caller: &Caller) -> Result<Vec<ApiKeyInfo>, AppError> {
        caller.require(Permission::ManageApiKeys)?;
        db::query_as::<ApiKeyInfo>(&format!(
            "{API_KEY_SELECT} WHERE ($1 IS NULL OR business_id = $1) ORDER BY created_at DESC"
        ))
        .bind(caller.business_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing API keys"))
    }

    /// Revokes an API key (idempotent: revoking a revoked key returns it unchanged).
    ///
    /// Errors: 403 unless the caller may manage API keys; 404 for a key of another business.
    pub async fn revoke_api_key(
        &self,
        caller: &Caller,
        id: ApiKeyId,
    ) -> Result<ApiKeyInfo, AppError> {
        caller.require(Permission::ManageApiKeys)?;
        let mut tx = self.begin_write().await?;
        let before = db::query_as::<ApiKeyInfo>(&format!(
            "{API_KEY_SELECT} WHERE id = $1 AND ($2 IS NULL OR business_id = $2)"
        ))
        .bind(id)
        .bind(caller.business_id)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("reading the API key"))?
        .ok_or_else(|| AppError::not_found(format!("no API key with id {id}")))?;
        if before.revoked_at.is_some() {
            return Ok(before);
        }
        db::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now())
            .execute(&mut tx)
            .await
            .map_err(db_error("revoking the API key"))?;
        let after = api_key_in(&mut tx, id).await?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "api_key.revoke",
                entity_type: "api_key",
                entity_id: Some(id.to_string()),
                studio_id: after.studio_id,
                idempotency_key: None,
            },
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the revocation"))?;
        // The key's next request reads its row again and finds it revoked.
        self.api_keys.forget_all();
        tracing::info!(key_id = %id, "API key revoked");
        Ok(after)
    }

    /// Creates a user who can sign in.
    ///
    /// Errors: 403 unless the caller may manage users; 422 for a malformed email, an email in
    /// use, an empty name, a short password, a receptionist without a studio or an employee
    /// without an employee id (or one of another business).
    pub async fn create_user(
        &self,
        caller: &Caller,
        request: &UserRequest,
    ) -> Result<UserInfo, AppError> {
        self.insert_user(caller, request, false).await
    }

    pub(crate) async fn insert_user(
        &self,
        caller: &Caller,
        request: &UserRequest,
        demo_credentials: bool,
    ) -> Result<UserInfo, AppError> {
        caller.require(Permission::ManageUsers)?;
        let email = request.email.trim();
        if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(AppError::invalid(
                "email",
                FieldProblem::NotAnEmail { text: email.into() },
            ));
        }
        if request.name.trim().is_empty() {
            return Err(AppError::invalid("name", FieldProblem::PersonNameRequired));
        }
        if !demo_credentials && request.password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AppError::invalid(
                "password",
                FieldProblem::PasswordTooShort {
                    min_chars: MIN_PASSWORD_CHARS,
                },
            ));
        }
        let (studio, employee) = match request.role {
            Role::Owner => (None, None),
            Role::Receptionist => (
                Some(request.studio_id.ok_or_else(|| {
                    AppError::invalid("studio_id", FieldProblem::ReceptionistNeedsStudio)
                })?),
                None,
            ),
            Role::Employee => (
                None,
                Some(request.employee_id.ok_or_else(|| {
                    AppError::invalid("employee_id", FieldProblem::EmployeeAccountNeedsEmployee)
                })?),
            ),
        };
        let scope_studio = match (studio, employee) {
            (Some(studio), _) => Some(studio),
            (None, Some(employee)) => {
                let found: Option<StudioId> =
                    db::query_scalar("SELECT studio_id FROM employees WHERE id = $1")
                        .bind(employee)
                        .fetch_optional(self.pool())
                        .await
                        .map_err(db_error("looking up the employee"))?;
                Some(found.filter(|s| caller.sees_studio(*s)).ok_or_else(|| {
                    AppError::invalid(
                        "employee_id",
                        FieldProblem::UnknownEmployee { id: employee },
                    )
                })?)
            }
            (None, None) => None,
        };
        if let Some(studio) = studio {
            if !caller.sees_studio(studio) {
                return Err(AppError::invalid(
                    "studio_id",
                    FieldProblem::UnknownStudio { id: studio },
                ));
            }
        }
        let business = self.business_for(caller, scope_studio).await?;
        let hash = hash_password(request.password.clone()).await?;
        let id = UserId::generate();
        let mut tx = self.begin_write().await?;
        let inserted = db::query(
            "INSERT INTO users (id, business_id, email, name, role, studio_id, employee_id,
                                password_hash, demo_credentials, created_at, password_changed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(id)
        .bind(business)
        .bind(email)
        .bind(request.name.trim())
        .bind(request.role.as_str())
        .bind(studio)
        .bind(employee)
        .bind(&hash)
        .bind(demo_credentials)
        .bind(now())
        .execute(&mut tx)
        .await;
        if let Err(error) = inserted {
            if super::is_unique_violation(&error, "users.email", "users_email_key") {
                return Err(AppError::invalid(
                    "email",
                    FieldProblem::EmailTaken {
                        email: email.into(),
                    },
                ));
            }
            return Err(db_error("saving the user")(error));
        }
        let user = db::query_as::<UserInfo>(&format!("{USER_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut tx)
            .await
            .map_err(db_error("reading the user"))?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "user.create",
                entity_type: "user",
                entity_id: Some(id.to_string()),
                studio_id: scope_studio,
                idempotency_key: None,
            },
            NOTHING,
            Some(&user),
        )
        .await?;
        tx.commit().await.map_err(db_error("committing the user"))?;
        tracing::info!(user_id = %id, role = %request.role, "user created");
        Ok(user)
    }

    /// Stores the language the signed-in user chose for the UI (`None`: the browser's language
    /// decides again). Every role may choose its own; API keys have no UI and are refused.
    ///
    /// Errors: 403 for an API key; a database error.
    pub async fn set_own_language(
        &self,
        caller: &Caller,
        language: Option<Language>,
    ) -> Result<(), AppError> {
        let Principal::User { id, .. } = &caller.principal else {
            return Err(AppError::Denied {
                status: 403,
                code: "not_a_user".into(),
                message: "only a signed-in person has a language; an API key has none".into(),
                problem: None,
            });
        };
        let mut tx = self.begin_write().await?;
        db::query("UPDATE users SET locale = $2 WHERE id = $1")
            .bind(*id)
            .bind(language)
            .execute(&mut tx)
            .await
            .map_err(db_error("saving the language"))?;
        tx.commit()
            .await
            .map_err(db_error("committing the language"))?;
        tracing::info!(user_id = %id, language = ?language, "language chosen");
        Ok(())
    }

    /// Sets a user's password (clearing the demo-credentials mark) and ends their sessions.
    ///
    /// Errors: 403 unless the caller may manage users; 404 for an unknown email (or one of
    /// another business); 422 for a short password.
    pub async fn set_password(
        &self,
        caller: &Caller,
        email: &str,
        password: &str,
    ) -> Result<UserInfo, AppError> {
        caller.require(Permission::ManageUsers)?;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AppError::invalid(
                "password",
                FieldProblem::PasswordTooShort {
                    min_chars: MIN_PASSWORD_CHARS,
                },
            ));
        }
        let hash = hash_password(password.to_string()).await?;
        let mut tx = self.begin_write().await?;
        let user = db::query_as::<UserInfo>(&format!(
            "{USER_SELECT} WHERE lower(email) = lower($1) AND ($2 IS NULL OR business_id = $2)"
        ))
        .bind(email.trim())
        .bind(caller.business_id)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("looking up the user"))?
        .ok_or_else(|| AppError::not_found(format!("no user with email {}", email.trim())))?;
        db::query(
            "UPDATE users SET password_hash = $2, demo_credentials = FALSE, password_changed_at = $3
             WHERE id = $1",
        )
        .bind(user.id)
        .bind(&hash)
        .bind(now())
        .execute(&mut tx)
        .await
        .map_err(db_error("saving the password"))?;
        db::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user.id)
            .bind(now())
            .execute(&mut tx)
            .await
            .map_err(db_error("ending the user's sessions"))?;
        access::record(
            &mut tx,
            caller,
            Activity {
                action: "user.set_password",
                entity_type: "user",
                entity_id: Some(user.id.to_string()),
                studio_id: user.studio_id,
                idempotency_key: None,
            },
            NOTHING,
            NOTHING,
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the password"))?;
        tracing::info!(user_id = %user.id, "password changed; sessions ended");
        Ok(UserInfo {
            demo_credentials: false,
            ..user
        })
    }

    /// Deactivates or reactivates a user. A deactivated user cannot sign in and their sessions
    /// end at once (someone who left the studio). The caller cannot deactivate themselves, so a
    /// business never locks out its last owner by accident.
    ///
    /// Errors: 403 unless the caller may manage users; 404 for a user of another business;
    /// 422 `user_id` when it is the caller.
    pub async fn set_user_active(
        &self,
        caller: &Caller,
        id: UserId,
        active: bool,
    ) -> Result<UserInfo, AppError> {
        caller.require(Permission::ManageUsers)?;
        if matches!(&caller.principal, Principal::User { id: own, .. } if *own == id) {
            return Err(AppError::invalid(
                "user_id",
                FieldProblem::CannotDeactivateSelf,
            ));
        }
        let mut tx = self.begin_write().await?;
        let before = db::query_as::<UserInfo>(&format!(
            "{USER_SELECT} WHERE id = $1 AND ($2 IS NULL OR business_id = $2)"
        ))
        .bind(id)
        .bind(caller.business_id)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_error("looking up the user"))?
        .ok_or_else(|| AppError::not_found(format!("no user with id {id}")))?;
        if before.active == active {
            return Ok(before);
        }
        db::query("UPDATE users SET active = $2 WHERE id = $1")
            .bind(id)
            .bind(active)
            .execute(&mut tx)
            .await
            .map_err(db_error("changing the user"))?;
        if !active {
            db::query(
                "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now())
            .execute(&mut tx)
            .await
            .map_err(db_error("ending the user's sessions"))?;
        }
        let after = UserInfo {
            active,
            ..before.clone()
        };
        access::record(
            &mut tx,
            caller,
            Activity {
                action: if active {
                    "user.reactivate"
                } else {
                    "user.deactivate"
                },
                entity_type: "user",
                entity_id: Some(id.to_string()),
                studio_id: before.studio_id,
                idempotency_key: None,
            },
            Some(&before),
            Some(&after),
        )
        .await?;
        tx.commit()
            .await
            .map_err(db_error("committing the user change"))?;
        tracing::info!(user_id = %id, active, "user (de)activated");
        Ok(after)
    }

    /// The users of the caller's business, by role and name.
    ///
    /// Errors: 403 unless the caller may manage users.
    pub async fn users(&self, caller: &Caller) -> Result<Vec<UserInfo>, AppError> {
        caller.require(Permission::ManageUsers)?;
        db::query_as::<UserInfo>(&format!(
            "{USER_SELECT} WHERE ($1 IS NULL OR business_id = $1) ORDER BY role, name"
        ))
        .bind(caller.business_id)
        .fetch_all(self.pool())
        .await
        .map_err(db_error("listing users"))
    }

    /// Active users whose password is a published demo one (`serve` refuses to start with them
    /// outside demo mode).
    ///
    /// Errors: a database error.
    pub async fn demo_credentials_in_use(&self) -> Result<Vec<String>, AppError> {
        db::query_scalar("SELECT email FROM users WHERE demo_credentials AND active ORDER BY email")
            .fetch_all(self.pool())
            .await
            .map_err(db_error("checking for demo credentials"))
    }

    /// The activity log of the caller's business, newest first; `before` pages back (entries
    /// with a smaller id).
    ///
    /// Errors: 403 unless the caller may read the activity log.
    pub async fn activity(
        &self,
        caller: &Caller,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ActivityEntry>, AppError> {
        caller.require(Permission::ReadActivity)?;
        db::query_as::<ActivityEntry>(
            "SELECT id, at, actor, actor_label, role, action, entity_type, entity_id, studio_id,
                    idempotency_key, before_state, after_state
             FROM activity_log
             WHERE ($1 IS NULL OR business_id = $1) AND ($2 IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(caller.business_id)
        .bind(before)
        .bind(limit.clamp(1, 500))
        .fetch_all(self.pool())
        .await
        .map_err(db_error("reading the activity log"))
    }
}

/// API key `id` as listed, read inside `tx` (after writing it).
async fn api_key_in(tx: &mut DbTransaction, id: ApiKeyId) -> Result<ApiKeyInfo, AppError> {
    db::query_as::<ApiKeyInfo>(&format!("{API_KEY_SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("reading the API key"))
}

const API_KEY_SELECT: &str = "SELECT id, name, prefix, role, studio_id, scopes,
        created_at, created_by, revoked_at, last_used_at FROM api_keys";

const USER_SELECT: &str = "SELECT id, email, name, role, studio_id, employee_id, active,
        demo_credentials FROM users";

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "pe_session";

/// The `Set-Cookie` value that stores a session: HttpOnly (no script can read it), SameSite=Lax
/// (not sent with cross-site POSTs), Path=/, expiring with the session, and Secure when the site
/// is served over HTTPS (`secure`).
pub fn session_cookie(token: &str, expires_at: DateTime<Utc>, secure: bool) -> String {
    let max_age = (expires_at - now()).num_seconds().max(0);
    cookie::Cookie::build((SESSION_COOKIE, token.to_string()))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
        .to_string()
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn expired_session_cookie(secure: bool) -> String {
    cookie::Cookie::build((SESSION_COOKIE, String::new()))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// Every cookie of a request's `Cookie` headers (RFC 6265 §5.4: one header, or several that a
/// proxy split), in order. A header that is not visible ASCII or a pair without `=` is skipped:
/// it names no cookie the app set.
fn cookies_in(headers: &http::HeaderMap) -> impl Iterator<Item = cookie::Cookie<'_>> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
}

/// The session token among a request's `Cookie` headers, if any.
pub fn session_token_in(headers: &http::HeaderMap) -> Option<String> {
    cookies_in(headers)
        .find(|c| c.name() == SESSION_COOKIE && !c.value().is_empty())
        .map(|c| c.value().to_string())
}

/// Name of the language cookie: the one leptos_i18n reads (before Accept-Language) to choose the
/// page's language; its value is a [`Language::code`].
pub const LANGUAGE_COOKIE: &str = "i18n_pref_locale";

/// The `Set-Cookie` value that remembers the language chosen in this browser for a year
/// (`Path=/`, `SameSite=Lax`; readable by the page, which holds nothing secret).
pub fn language_cookie(language: Language, secure: bool) -> String {
    cookie::Cookie::build((LANGUAGE_COOKIE, language.code()))
        .same_site(cookie::SameSite::Lax)
        .secure(secure)
        .path("/")
        .max_age(cookie::time::Duration::days(365))
        .build()
        .to_string()
}

/// The language a request asks for, chosen as the pages choose theirs: the language cookie (which
/// [`prefer_language`] sets to a signed-in person's stored choice), else the best match of
/// `Accept-Language` by its q-values (RFC 9110 §12.5.4: `fr-CH, de;q=0.8` → French; leptos_i18n's
/// matching, as for the pages), else English. For documents the server writes (payout slips).
pub fn request_language(headers: &http::HeaderMap) -> Language {
    let chosen = cookies_in(headers)
        .find(|c| c.name() == LANGUAGE_COOKIE)
        .and_then(|c| Language::from_code(c.value()));
    if let Some(language) = chosen {
        return language;
    }
    let accepted: Vec<String> = headers
        .get_all(http::header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(accept_language::parse)
        .collect();
    <crate::i18n::Locale as leptos_i18n::Locale>::find_locale(&accepted).into()
}

/// Makes the request's language cookie say `language`: the signed-in person's stored choice wins
/// over whatever this browser remembered (a shared desk PC, a phone set up by someone else). The
/// other cookies stay as they were, in one `Cookie` header.
pub fn prefer_language(headers: &mut http::HeaderMap, language: Language) {
    let mut pairs: Vec<String> = cookies_in(headers)
        .filter(|c| c.name() != LANGUAGE_COOKIE)
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect();
    pairs.push(format!("{LANGUAGE_COOKIE}={}", language.code()));
    match http::HeaderValue::from_str(&pairs.join("; ")) {
        Ok(value) => {
            headers.insert(http::header::COOKIE, value);
        }
        Err(error) => {
            // Cookies arrived as valid header text, and the rebuilt header holds only them.
            tracing::error!(%error, "could not rebuild the Cookie header with the language");
        }
    }
}

/// Decides the language a page request renders in and makes it the request's only
/// `Accept-Language`, which is all the page's language context reads (leptos_i18n without its
/// `cookie` feature): `stored` (the signed-in person's choice, which also replaces the
/// request's language cookie, see [`prefer_language`]), else [`request_language`] (the cookie,
/// else the browser's `Accept-Language`, else English). One decision for pages, server functions
/// and slips, made once per request by the server's authentication middleware.
pub fn pin_request_language(headers: &mut http::HeaderMap, stored: Option<Language>) {
    if let Some(language) = stored {
        prefer_language(headers, language);
    }
    let language = request_language(headers);
    headers.insert(
        http::header::ACCEPT_LANGUAGE,
        http::HeaderValue::from_static(language.code()),
    );
}

/// Whether the request came over HTTPS: through a proxy that says so (`X-Forwarded-Proto:
/// https`). Decides the session cookie's `Secure` flag.
pub fn served_over_https(headers: &http::HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_request_s_language_is_its_cookie_then_accept_language_then_english() {
        let with = |pairs: &[(http::header::HeaderName, &'static str)]| {
            let mut headers = http::HeaderMap::new();
            for (name, value) in pairs {
                headers.append(name.clone(), http::HeaderValue::from_static(value));
            }
            request_language(&headers)
        };
        use http::header::{ACCEPT_LANGUAGE, COOKIE};
        assert_eq!(with(&[]), Language::En);
        assert_eq!(
            with(&[(ACCEPT_LANGUAGE, "fr-CH, fr;q=0.9, de;q=0.8")]),
            Language::Fr
        );
        assert_eq!(
            with(&[(ACCEPT_LANGUAGE, "it-CH, de;q=0.5, fr;q=0.7")]),
            Language::Fr
        );
        assert_eq!(with(&[(ACCEPT_LANGUAGE, "it-CH")]), Language::En);
        assert_eq!(
            with(&[
                (COOKIE, "pe_session=abc; i18n_pref_locale=de"),
                (ACCEPT_LANGUAGE, "fr-CH"),
            ]),
            Language::De
        );
        assert_eq!(
            with(&[(COOKIE, "i18n_pref_locale=xx"), (ACCEPT_LANGUAGE, "de-CH")]),
            Language::De
        );
    }

    #[test]
    fn the_stored_language_replaces_the_browsers_and_keeps_the_session() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            http::HeaderValue::from_static("pe_session=abc; i18n_pref_locale=fr; other=1"),
        );
        prefer_language(&mut headers, Language::De);
        let cookie = headers
            .get(http::header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .expect("a Cookie header");
        assert_eq!(cookie, "pe_session=abc; other=1; i18n_pref_locale=de");
        assert_eq!(session_token_in(&headers).as_deref(), Some("abc"));
    }

    #[test]
    fn the_page_is_asked_for_exactly_the_language_the_server_chose() {
        use http::header::{ACCEPT_LANGUAGE, COOKIE};
        let accept = |headers: &http::HeaderMap| {
            headers
                .get_all(ACCEPT_LANGUAGE)
                .iter()
                .map(|v| v.to_str().expect("ASCII").to_string())
                .collect::<Vec<_>>()
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            COOKIE,
            http::HeaderValue::from_static("i18n_pref_locale=fr"),
        );
        headers.append(ACCEPT_LANGUAGE, http::HeaderValue::from_static("de-CH"));
        headers.append(ACCEPT_LANGUAGE, http::HeaderValue::from_static("en;q=0.5"));
        pin_request_language(&mut headers, None);
        assert_eq!(accept(&headers), ["fr"], "the cookie outranks the browser");

        let mut headers = http::HeaderMap::new();
        headers.insert(
            ACCEPT_LANGUAGE,
            http::HeaderValue::from_static("it-CH, de;q=0.8"),
        );
        pin_request_language(&mut headers, None);
        assert_eq!(accept(&headers), ["de"], "the browser's best match");

        let mut headers = http::HeaderMap::new();
        headers.insert(
            COOKIE,
            http::HeaderValue::from_static("i18n_pref_locale=fr"),
        );
        headers.insert(ACCEPT_LANGUAGE, http::HeaderValue::from_static("fr-CH"));
        pin_request_language(&mut headers, Some(Language::De));
        assert_eq!(
            accept(&headers),
            ["de"],
            "the signed-in person's choice wins"
        );
        assert_eq!(request_language(&headers), Language::De);

        let mut headers = http::HeaderMap::new();
        pin_request_language(&mut headers, None);
        assert_eq!(accept(&headers), ["en"], "nothing asked: English");
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_costs_so_unknown_accounts_are_not_faster() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let dummy = PasswordHash::new(DUMMY_HASH).expect("the dummy hash parses");
        let salt = SaltString::generate(&mut OsRng);
        let real = argon2()
            .hash_password(b"correct horse", &salt)
            .expect("hashes")
            .to_string();
        let real = PasswordHash::new(&real).expect("parses");
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.params, real.params, "same m, t, p");
        assert!(argon2().verify_password(b"correct horse", &real).is_ok());
        assert!(argon2().verify_password(b"correct horse", &dummy).is_err());
    }

    #[tokio::test]
    async fn our_hashes_are_standard_argon2id_and_standard_hashes_verify_with_ours() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("correct horse battery".into())
            .await
            .expect("hashes");
        assert!(ours.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{ours}");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
        assert!(
            verify_password("correct horse battery".into(), ours.clone())
                .await
                .expect("verifies")
        );
        assert!(!verify_password("correct horse battery!".into(), ours)
            .await
            .expect("verifies"));
        // A hash made by the crate itself, at its default cost, still verifies (its cost is read
        // from the PHC string).
        let salt = SaltString::generate(&mut OsRng);
        let standard = Argon2::default()
            .hash_password(b"tr0ub4dor", &salt)
            .expect("hashes")
            .to_string();
        assert!(verify_password("tr0ub4dor".into(), standard.clone())
            .await
            .expect("verifies"));
        assert!(!verify_password("tr0ub4dor&3".into(), standard)
            .await
            .expect("verifies"));
        assert!(!verify_password("x".into(), "not a hash".into())
            .await
            .expect("a malformed hash is no match"));
    }

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_only_over_https() {
        let at = now() + chrono::Duration::hours(1);
        let plain = session_cookie("abc", at, false);
        assert!(plain.starts_with("pe_session=abc"), "{plain}");
        assert!(plain.contains("HttpOnly"), "{plain}");
        assert!(plain.contains("SameSite=Lax"), "{plain}");
        assert!(!plain.contains("Secure"), "{plain}");
        assert!(session_cookie("abc", at, true).contains("Secure"));
        let cookies = |values: &[&'static str]| {
            let mut headers = http::HeaderMap::new();
            for value in values {
                headers.append(http::header::COOKIE, http::HeaderValue::from_static(value));
            }
            session_token_in(&headers)
        };
        assert_eq!(
            cookies(&["theme=dark; pe_session=tok123; other=1"]).as_deref(),
            Some("tok123")
        );
        // A proxy may split the cookies over several headers.
        assert_eq!(
            cookies(&["theme=dark", "pe_session=tok456"]).as_deref(),
            Some("tok456")
        );
        assert_eq!(cookies(&["theme=dark", "pe_session="]), None);
    }
}
