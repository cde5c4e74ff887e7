-- The hall's window (窗口, SPEC 4.4): hall staff sign in at the hall node itself and register
-- cases for citizens who came in, phoned, wrote or e-mailed. Everything the sign-in needs is
-- here, so it works with the county link down. Accounts are made with `hall-admin staff`;
-- hall-write owns the rest (fcgi/hall/window.c, lib/store/window.c).

-- One row per hall staff account. pw_hash: libsodium's crypto_pwhash_str (Argon2id).
-- failed_logins counts wrong passwords in a row; the 5th locks the account until
-- locked_until (Unix seconds). A disabled account signs in no more and has no sessions.
CREATE TABLE window_accounts (
	name          TEXT PRIMARY KEY,            -- 1 to 32 of A-Z a-z 0-9 _ . -
	pw_hash       TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER,
	created_at    INTEGER NOT NULL,
	last_login_at INTEGER
) WITHOUT ROWID;

-- A signed-in browser. Only the SHA-256 (hex) of its cookie's token is kept: a copy of the
-- store opens no session. It ends at expires_at, or after an hour without a request
-- (last_seen_at, moved at most once a minute), or at sign-out.
CREATE TABLE window_sessions (
	token_hash   TEXT PRIMARY KEY,
	name         TEXT NOT NULL REFERENCES window_accounts (name),
	expires_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	remote       TEXT                          -- the client address it began from
) WITHOUT ROWID;
CREATE INDEX window_sessions_name ON window_sessions (name);

-- The account that registered a case at the window (NULL: the citizen online); cases
-- already has channel (001).
ALTER TABLE cases ADD COLUMN registrar TEXT;
-- the window's list of the hall's latest cases
CREATE INDEX cases_submitted ON cases (submitted_at);
