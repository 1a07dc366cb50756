//! # cardadmin
//!
//! The cryptographic core a smart-card management server needs to administer Windows Base CSP /
//! minidriver smart cards, in the shape of the Microsoft Identity Manager Certificate
//! Management (MIM CM) REST API. Pure Rust, `no_std`, no `unsafe`.
//!
//! | MIM CM endpoint (REST API v1.0) | what the server computes | here | response body |
//! |---|---|---|---|
//! | `GET /requests/{reqid}/smartcards/{scid}/authenticationresponse?cardid=&challenge=&diversified=` | 3DES-EDE ECB encryption of the card's 8-byte admin challenge under the initial admin key (`diversified=false`) or the card's key derived from the master key (`diversified=true`) | [`cm::authentication_response`]; typed: [`AdminKey::respond`], [`AdminKey::verify`] | `response.to_string()` (12 base64 characters) |
//! | `GET /requests/{reqid}/smartcards/{scid}/diversifiedkey?cardid=` | the card's own admin key, derived from the master key and the card ID (NXP AN10922) | [`cm::diversified_key`]; typed: [`MasterKey::diversify`], [`master::diversify`] | `key.to_base64()` (32 base64 characters) |
//! | `GET /smartcards/{id}/serverproposedpin?cardid=&challenge=` | a user PIN drawn uniformly from those the profile template's PIN policy accepts, when the policy says the server sets it | [`cm::server_proposed_pin`]; typed: [`PinPolicy::generate`] | `pin.as_str()`, or 204 No Content for `None` |
//!
//! The crate is a library of pure functions: it does no I/O, reads no clock, holds no global
//! state and has no randomness of its own. Your server parses the request, hands this crate the
//! admin key, the query parameters and a cryptographically secure random generator, and turns
//! what comes back (a typed value, or a typed error whose message names the bad parameter) into
//! the HTTP response.
//!
//! # Usage
//!
//! Add `cardadmin` to `Cargo.toml`; the default features (`std`, `alloc`) suit a server.
//!
//! A server holds keys in two roles, as MIM CM's profile template does, and the types keep
//! them apart ([`master`] explains why):
//!
//! - the **initial admin key**, an [`AdminKey`]: what blank cards ship with; it answers
//!   challenges with `diversified=false`. Each card's own derived key is an [`AdminKey`] too.
//! - the **master (diversification) key**, a [`MasterKey`] in memory or any
//!   [`master::CmacSigner`] (an HSM): it derives card keys for `diversified=true` and
//!   `diversifiedkey`, and never answers a challenge itself, since a master that encrypts
//!   caller-chosen blocks gives away CMAC under it and so every card's key.
//!
//! Keys come from wherever you keep them (an HSM, protected configuration) as bytes
//! ([`AdminKey::from_bytes`], [`MasterKey::new`]) or as the 48 hex digits MIM CM profile
//! templates store ([`AdminKey::from_hex`], [`MasterKey::from_hex`]). Parse them once at
//! start-up and share them: each holds its expanded key schedule.
//!
//! ## `authenticationresponse`
//!
//! The card issues an 8-byte challenge; the server encrypts it under the initial admin key
//! (or, with `diversified=true`, under the card's own key derived from the master key and the
//! card ID). This is the exchange of the MIM CM documentation ("Get smart card authentication
//! response"):
//!
//! ```
//! use cardadmin::{cm, AdminKey, MasterKey};
//!
//! let initial_key = AdminKey::from_hex("000000000000000000000000000000000000000000000000")?;
//! let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
//!
//! // ?cardid=bc88f13f-...&challenge=1hFD%2Bcz%2F0so%3D&diversified=false, URL-decoded.
//! let response = cm::authentication_response(
//!     &initial_key,
//!     Some(&master),
//!     "bc88f13f-83ba-4037-8262-46eba1291c6e",
//!     "1hFD+cz/0so=",
//!     false,
//! )?;
//! assert_eq!(response.to_string(), "F0Zudm4wPLY="); // the response body
//!
//! // A '+' that reached the server as a space is a 400 with a message that says so.
//! let err = cm::authentication_response(
//!     &initial_key,
//!     Some(&master),
//!     "bc88f13f-83ba-4037-8262-46eba1291c6e",
//!     "1hFD cz/0so=",
//!     false,
//! )
//! .unwrap_err();
//! assert!(err.to_string().starts_with("challenge: value has a space at position 4"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The typed API does the same on parsed values; [`AdminKey::verify`] checks a response in
//! constant time, for a server that holds both sides of the exchange (for example in tests):
//!
//! ```
//! use cardadmin::{AdminKey, CardId, Challenge, MasterKey};
//!
//! let initial_key = AdminKey::from_bytes([0; 24]);
//! let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
//! let card: CardId = "bc88f13f-83ba-4037-8262-46eba1291c6e".parse()?;
//! let challenge: Challenge = "1hFD+cz/0so=".parse()?;
//!
//! let card_key = master.diversify(&card); // diversified=true
//! let response = card_key.respond(&challenge)?;
//! assert!(card_key.verify(&challenge, &response));
//! assert!(!initial_key.verify(&challenge, &response));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## `diversifiedkey`
//!
//! The card's own admin key, for the client to write to the card when it is issued. Its
//! [`check_value`](AdminKey::check_value) identifies it in logs; the key itself leaves the
//! type only through [`AdminKey::to_base64`] (the response body) and
//! [`AdminKey::expose_secret`].
//!
//! ```
//! use cardadmin::{cm, MasterKey};
//!
//! let master = MasterKey::from_hex("00112233445566778899AABBCCDDEEFF0102030405060708")?;
//! let card_key = cm::diversified_key(&master, "bc88f13f-83ba-4037-8262-46eba1291c6e")?;
//!
//! let body = card_key.to_base64(); // zeroized when dropped
//! assert_eq!(body.len(), 32);
//! assert_eq!(card_key.check_value().to_string(), "E89382"); // safe to log
//! assert!(card_key.audit().is_clean());
//!
//! // A malformed cardid is a 400 naming the parameter.
//! let err = cm::diversified_key(&master, "bc88f13f").unwrap_err();
//! assert!(err.to_string().starts_with("cardid: "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## AES admin keys
//!
//! Newer cards use AES admin keys: YubiKey firmware 5.7 and later (an AES-192 management key
//! whose default bytes are the old Triple-DES default), FIPS card models, HID Crescendo
//! minidriver cards. An [`AdminKey`] carries its [`Algorithm`], stated by the caller and never
//! guessed from the key length (24 bytes is both a Triple-DES and an AES-192 key). Challenges
//! and responses are then 16 bytes (24 base64 characters), check values come from
//! `E_K(0^16)`, and diversification follows AN10922's method for the key's size.
//!
//! ```
//! use cardadmin::{cm, AdminKey, Algorithm, MasterKey};
//!
//! let default = [1, 2, 3, 4, 5, 6, 7, 8].repeat(3);
//! let key = AdminKey::new(Algorithm::Aes192, &default)?; // or AdminKey::new_hex(algorithm, text)
//! assert!(!key.audit().is_clean()); // the well-known default bytes
//!
//! let card_id = "bc88f13f-83ba-4037-8262-46eba1291c6e";
//! let no_master = None::<&MasterKey>;
//! let response =
//!     cm::authentication_response(&key, no_master, card_id, "AQIDBAUGBwgJCgsMDQ4PEA==", false)?;
//! assert_eq!(response.to_string(), "PW5tnNM3KS7iD7YLioRPGQ==");
//!
//! // An 8-byte challenge for an AES key is a 400 that names the length the key needs.
//! let err =
//!     cm::authentication_response(&key, no_master, card_id, "1hFD+cz/0so=", false).unwrap_err();
//! assert_eq!(err.to_string(), "challenge: AES-192 admin keys answer 16-byte challenges, got 8 bytes");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Offline unblock
//!
//! A user whose card is blocked, away from the network, reads the challenge on the Windows
//! unblock screen to the help desk; [`unblock::respond`] takes it as typed and gives the
//! response in groups of four to read back.
//!
//! ```
//! use cardadmin::{unblock, AdminKey};
//!
//! let key = AdminKey::from_hex("010203040506070801020304050607080102030405060708")?;
//! assert_eq!(unblock::respond(&key, "1603 ebdf-1c8a 2e72")?.to_string(), "F940 6715 12CD 0DFF");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## `serverproposedpin`
//!
//! The profile template's PIN policy says who sets the user PIN. When the server does
//! ([`PinPolicy::server_generates`]), it proposes one drawn uniformly from every PIN the policy
//! accepts; otherwise the endpoint answers 204 No Content.
//!
//! ```
//! # #[cfg(feature = "getrandom")]
//! # {
//! use cardadmin::{cm, CharRule, PinPolicy, UserPinOption};
//! use cardadmin::rng::OsRng;
//!
//! let policy = PinPolicy::builder()
//!     .min_len(8)
//!     .max_len(12)
//!     .digits(CharRule::Require)
//!     .uppercase(CharRule::Require)
//!     .build()?;
//!
//! // The generator is the caller's: a CSPRNG such as the operating system's.
//! match cm::server_proposed_pin(&policy, &mut OsRng)? {
//!     Some(pin) => {
//!         // The body is pin.as_str(); it is the user's secret, so do not log it.
//!         assert_eq!(pin.len(), 8);
//!         assert_eq!(policy.validate(pin.as_str()), Ok(()));
//!     }
//!     None => { /* 204 No Content: the user, or a custom provider, sets the PIN */ }
//! }
//!
//! // A PIN the user chose is checked against the same policy, with a reason to show them.
//! let reason = policy.validate("12345678").unwrap_err();
//! assert_eq!(reason.to_string(), "PIN must contain at least one uppercase letter");
//!
//! let user_chooses = PinPolicy::builder().user_pin_option(UserPinOption::UserProvided).build()?;
//! assert!(cm::server_proposed_pin(&user_chooses, &mut OsRng)?.is_none()); // 204
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## PIN policies in configuration files
//!
//! With the `serde` feature, [`PinPolicy`], [`CharRule`] and [`UserPinOption`] implement
//! `Serialize` and `Deserialize`. The shape is stable; in JSON, with every field and its default:
//!
//! ```json
//! {
//!   "min_len": 6,
//!   "max_len": 8,
//!   "proposed_len": 8,
//!   "digits": "Require",
//!   "lowercase": "Disallow",
//!   "uppercase": "Disallow",
//!   "special": "Disallow",
//!   "reject_weak": true,
//!   "user_pin_option": "Randomized"
//! }
//! ```
//!
//! - Field names are the [`PinPolicyBuilder`] method names. Every field is optional and takes
//!   the value of [`PinPolicy::default`] when absent; an absent (or `null`) `proposed_len` is 8
//!   clamped into `min_len..=max_len`, as with the builder.
//! - Rules are `"Allow"`, `"Require"` (at least one) or `"Disallow"`; the PIN option is
//!   `"None"`, `"UserProvided"`, `"Randomized"`, `"ServerDistributed"` or
//!   `"CustomServerDistributed"`. Values are case-sensitive.
//! - A policy is validated as it is read, by [`PinPolicyBuilder::build`]: a file that describes
//!   an invalid policy fails to deserialize, with the [`PolicyError`] message. Unknown fields
//!   are errors too, so a misspelt field cannot silently fall back to a default.
//! - Serializing writes every field, `proposed_len` included.
//!
//! With `serde_json = "1"` beside `cardadmin` (feature `serde`) in your `[dependencies]`:
//!
//! ```
//! # #[cfg(feature = "serde")]
//! # {
//! use cardadmin::{CharRule, PinPolicy};
//!
//! let policy: PinPolicy =
//!     serde_json::from_str(r#"{ "min_len": 8, "max_len": 12, "uppercase": "Require" }"#)?;
//! assert_eq!(policy.proposed_len(), 8);
//! assert_eq!(policy.uppercase(), CharRule::Require);
//!
//! let err = serde_json::from_str::<PinPolicy>(r#"{ "min_len": 3 }"#).unwrap_err();
//! assert!(err.to_string().starts_with("PIN policy min_len must be 4 to 127, got 3"));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `std` | yes | `std::error::Error` for every error type; implies `alloc` |
//! | `alloc` | yes | [`AdminKey::to_base64`], which returns a (zeroizing) `String` |
//! | `serde` | no | `Serialize`/`Deserialize` for [`PinPolicy`], [`CharRule`], [`UserPinOption`], and `Deserialize` for [`AdminKey`] (48 hex digits, or an algorithm and hex; text wiped); needs neither `std` nor `alloc` |
//! | `getrandom` | no | [`rng::OsRng`], the operating system's generator |
//! | `rand_core_09` | no | [`rng::RandCore09`](rng), to pass `rand` 0.9 generators |
//! | `rand_core_010` | no | [`rng::RandCore010`](rng), to pass `rand` 0.10 generators |
//!
//! With `default-features = false` the crate is `no_std` and allocation-free: everything but
//! `to_base64` is available, and [`AdminKey::expose_secret`] gives the bytes to encode.
//!
//! The public API is small and listed in the README ("Public API"): the types re-exported at
//! the crate root, the [`cm`] facade, and the re-exports [`rand_core`] (for the generator
//! traits) and [`Zeroizing`].
//!
//! # Design
//!
//! - **Three layers.** `cardadmin-mimcm`'s `handle_request` takes a whole request target and
//!   returns the status, content type and JSON body, with MIM CM's (.NET's) parsing rules, so a
//!   server is a thin shell around it (`apps/server/`). The [`cm`] functions take the query
//!   parameters as text and return errors that name the parameter. The typed layer ([`AdminKey`], [`CardId`], [`Challenge`], [`Response`],
//!   [`PinPolicy`]) is for everything else: batch provisioning, tests, other protocols.
//! - **Strict parsing, helpful errors.** A lenient base64 decoder would answer a *different*
//!   challenge when a `+` was URL-decoded to a space, and the card would count a failed admin
//!   authentication (cards typically block the admin key after a few). So challenge, response
//!   and card ID text are parsed strictly, and each error says which common mistake it saw
//!   ([`ParseError`]).
//! - **The GUID byte layout lives in one place.** MIM CM passes the card ID as GUID text, and
//!   the card holds the Windows memory layout of that GUID (first three fields
//!   little-endian). [`CardId`] is the only conversion, so diversification cannot read the
//!   wrong bytes. Bare 32 hex digits are .NET's "N" GUID text, not the file's bytes:
//!   [`CardId::from_raw_hex`] reads those.
//! - **Keys keep their schedule.** [`AdminKey`] stores its bytes and the expanded schedule
//!   together, so answering many challenges with one key costs one block encryption each.
//!   Diversification runs its CMAC chains on that schedule, as lanes of one call (the
//!   Triple-DES engine interleaves the three independent blocks of AN10922's three chains),
//!   and the key remembers `E_K(0)` (CMAC's `L`, also the source of the check value) after
//!   first use, so a master key that diversifies many cards derives its CMAC subkeys from one
//!   encryption.
//! - **One key type, run-time algorithm.** A card profile picks 3DES or AES at run time, so
//!   [`AdminKey`] dispatches at run time; ciphers live in one private module, the only one that
//!   names a cipher implementation.
//! - **Hygiene is reported, not enforced.** The documented example key is all zeros, and real
//!   deployments start from card vendors' defaults, so [`AdminKey::audit`] reports weak,
//!   degenerate and well-known keys ([`KeyFinding`]) and the caller decides what to refuse.
//! - **Policies are validated once.** A [`PinPolicy`] can only be made by
//!   [`PinPolicyBuilder::build`] (or deserialized through it) or be the valid
//!   [`PinPolicy::default`], so every policy in hand can
//!   generate PINs; [`PinPolicy::generate`] is uniform over every PIN
//!   [`PinPolicy::validate`] accepts at the proposed length (rejection sampling, whole-PIN
//!   redraws), because a generator skewed towards some PINs helps whoever guesses them.
//! - **Nothing panics.** Every fallible step returns a typed error (`#[non_exhaustive]`
//!   enums with `Display` a server can log as is); a broken random generator gives
//!   [`GenerateError`] after a bounded number of draws instead of hanging the server.
//!
//! # Memory Usage
//!
//! Nothing allocates except [`AdminKey::to_base64`] and the request-level [`cm`] facade (under
//! `alloc`). Sizes on x86-64, measured with `size_of`:
//!
//! | value | size | contents |
//! |---|---|---|
//! | [`AdminKey`] | 1040 B | the algorithm, up to 32 key bytes, the cipher (the largest, AES-256 from the `aes` crate, is 960 B; the Triple-DES engine's 48 pre-spread round keys are 768 B), and the cached `E_K(0)` block (16 atomic bytes and a flag, so the key stays `Send + Sync`) |
//! | [`primitive::TdesEde3`] | 768 B | three DES key schedules of 16 round keys, each spread over two `u64` words |
//! | [`Pin`] | 136 B | a fixed 127-byte buffer (the longest PIN any policy allows) and its length |
//! | [`PinPolicy`] | 32 B | lengths, four rules, two flags |
//! | [`CardId`], [`Challenge`], [`Response`] | 16 B, 17 B, 17 B | the bytes (a challenge or response has room for 16 and its length) |
//!
//! [`PinPolicy::generate`] works on the stack: the alphabet (94 B), the candidate PIN (127 B)
//! and a 64-byte chunk of random bytes. Diversification works on the stack too: up to three
//! CMAC states and two subkeys of one block each, run on the master key's own schedule. The
//! Triple-DES engine's constants (derived at compile time from the FIPS 46-3 tables) are
//! static data, read at fixed addresses whatever the key.
//!
//! # Security Considerations
//!
//! ## Triple-DES is legacy, and what the cards speak
//!
//! Base CSP / minidriver cards authenticate their administrator with a 3-key Triple-DES key,
//! so that is what this crate computes. TDEA is a legacy algorithm: NIST withdrew SP 800-67
//! Rev 2 on 1 January 2024, SP 800-131A Rev 2 disallows TDEA encryption after 2023, and its
//! 64-bit block limits how much one key should protect. Do not use this crate for anything
//! but talking to such cards. What you can do:
//!
//! - **Diversify.** With one shared admin key, a key leaked from one card, log or script opens
//!   every card; diversified keys confine that to one card, and the master key then only
//!   computes CMACs.
//! - **Keep the key roles apart** ([`master`]): the initial admin key answers
//!   `diversified=false`, the master key ([`MasterKey`], or an HSM behind
//!   [`master::CmacSigner`]) only derives. A master that answered challenges would be an
//!   encryption oracle: `E_MK(0)` is CMAC's `L`, and a few more chosen blocks give CMAC under
//!   the master, so every card's key (an outside review did it with 10 requests;
//!   `tests/review_attack.rs` replays it). [`cm::check_roles`] (which `cardadmin-mimcm`'s `Profile::new` calls) refuses one key in both roles,
//!   and for Triple-DES a key and its complement.
//! - **Audit keys** before use ([`AdminKey::audit`]): vendors' and minidriver defaults, weak
//!   DES parts, and keys that degenerate to single DES are all reported.
//! - **Identify keys by check value** ([`AdminKey::check_value`], [`MasterKey::check_value`]:
//!   two methods, see [`master`](master#check-values)), never by their bytes.
//!
//! ## What is zeroized
//!
//! - [`AdminKey`] and [`MasterKey`]: its bytes on drop, its expanded key schedule (the Triple-DES engine wipes
//!   its round keys on drop, and `aes` is built with its `zeroize` feature; `ZeroizeOnDrop` of
//!   each is asserted at compile time, and a test looks at the freed memory of dropped keys),
//!   and its cached `E_K(0)` block. The CMAC subkeys used in diversification, the derived
//!   bytes, the intermediate CMAC tags and chaining state, the audit's copies of the key
//!   parts, and the buffers [`AdminKey::from_hex`] and [`AdminKey::new_hex`] decode into are
//!   wiped too, and secret arrays are passed by reference, not copied. [`AdminKey::to_base64`]
//!   returns [`Zeroizing<String>`](Zeroizing).
//! - [`Pin`]: its buffer on drop. Generation wipes its candidate buffer and any random bytes
//!   it fetched but did not use, on success and on error.
//! - Not secret, not wiped: [`Challenge`], [`Response`], [`CardId`], [`KeyCheckValue`],
//!   [`PinPolicy`].
//!
//! Zeroizing on drop has limits that no library can lift: copies the compiler makes when a
//! value is moved (including bytes it never writes, such as padding and the unused part of an
//! enum or union, which can carry an earlier stack value along: the freed-memory test saw an
//! earlier key's AES schedule travel that way until it scrubbed the stack first), values left in registers or swapped to disk, and every copy outside this
//! crate: the text handed to [`AdminKey::from_hex`], the string a PIN is copied into for the
//! HTTP response, the server's request and response buffers. Keep keys in one place (parse
//! once, pass by reference), and zeroize your own copies.
//!
//! ## Secrets in logs and errors
//!
//! `Debug` of [`AdminKey`] shows only the check value, and of [`Pin`] only the length; [`Pin`]
//! has no `Display`. No error holds key bytes or PIN characters: [`KeyError`] names a position,
//! [`PinViolation`] a character class.
//!
//! ## Randomness
//!
//! The random generator is the caller's, and must be a cryptographically secure one: the
//! operating system's ([`rng::OsRng`] with the `getrandom` feature), `rand` 0.8's generators
//! as they are, `rand` 0.9's and 0.10's through [`rng`]'s adapters (the exact `Cargo.toml`
//! lines are in [`rng`]), or a CSPRNG seeded from one of them. (`rand_core` is re-exported as
//! [`rand_core`], but without its `getrandom` feature, so `cardadmin::rand_core::OsRng` does
//! not exist.) The `CryptoRng` bound is a promise by the
//! generator's author, not something this crate can check; a seeded deterministic generator
//! belongs in tests only. A generator that fails or is stuck yields a [`GenerateError`].
//!
//! # Constant-time caveats
//!
//! The master key opens every card of a deployment, and the `diversifiedkey` endpoint lets a
//! caller choose the card ID the master key processes, so every path that touches key
//! bytes is written to run in constant time: no branch, no table index, no multiplication and
//! no variable shift amount depends on them.
//!
//! - **Covered:** the key schedule, encryption and decryption of the crate's own 3-key
//!   Triple-DES engine ([`primitive::TdesEde3`], table-free and branch-free; its module docs
//!   explain the design), and every [`AdminKey`] path built on it or on AES:
//!   [`AdminKey::from_bytes`], [`AdminKey::new`], [`AdminKey::from_hex`] and
//!   [`AdminKey::new_hex`] (RustCrypto `base16ct`; the one decision taken is whether the text
//!   is valid), [`AdminKey::to_base64`] (`base64ct`), [`AdminKey::respond`],
//!   [`AdminKey::verify`] and `Response == Response` (`subtle`), [`AdminKey::check_value`],
//!   the CMAC chains and subkey doubling of diversification (masked XOR), the parity
//!   adjustment, [`AdminKey::audit`] (every check on every key, with `subtle`, findings
//!   accumulated as bits), [`unblock::respond`], and the host side of `cardadmin-card`'s flows (PIV
//!   single and mutual; GIDS, whose check of the card's cryptogram takes one accept-or-refuse
//!   decision). AES is RustCrypto `aes`: AES-NI where the processor has it, bitsliced
//!   software otherwise; both are constant time.
//! - **Checked, not just claimed:** `ctcheck/` runs each of these paths on the release build
//!   under valgrind memcheck with the key bytes marked undefined (the ctgrind / TIMECOP
//!   method: memcheck then reports every branch and every memory address computed from them),
//!   and CI fails on any report beyond the valid/invalid decision of key text and the
//!   accept/refuse decision of a verification. The AES paths run twice, with AES-NI and with
//!   the software AES. A control run of the table-based `des` crate must report its S-box
//!   look-ups, so the check is shown to see them. memcheck cannot see multiplications, so
//!   `scripts/check-engine-asm.sh` fails CI if the engine's release assembly contains a
//!   multiply or divide instruction, or calls code it did not scan.
//! - **Limits.** The compiler gives no constant-time guarantee: the checks cover the x86-64
//!   release build made by CI's toolchain, and another compiler version, target or
//!   optimisation level could differ (run `ctcheck/run.sh` there). Values the compiler copies
//!   to the stack are not wiped (see "What is zeroized"). Power and electromagnetic side
//!   channels are out of scope. The software card (`soft-card`) is a test tool and makes no
//!   constant-time promise.
//! - **Not constant time, on purpose:** parsing public data (challenges, card IDs, APDUs,
//!   requests); describing bad key text ([`AdminKey::from_hex`] on text that is not a key
//!   goes back over it to say which position is wrong); [`PinPolicy::validate`], which returns
//!   at the first violation and does not hide the PIN length; and PIN generation, whose
//!   running time depends mostly on how many draws it rejected (independent of the PIN it
//!   returns), but whose checks on the final PIN stop early and whose characters are looked up
//!   in the alphabet at a secret index. These run on PINs a user is choosing or receiving, not
//!   as an oracle an attacker can query; do not expose them as one.
//!
//! # Out of scope
//!
//! - **I/O:** HTTP, routing and the authorization of requests, reading keys from an HSM or
//!   configuration, talking to the card (`cardadmin-card`'s flows build and check APDUs; sending them
//!   is the caller's), logging. That is the server's job; this crate
//!   computes what the server answers.
//! - **MIM CM's certificate-based default key provider**, which derives admin keys with an
//!   RSA key from a certificate in a certificate store. A custom scheme plugs in by producing
//!   an [`AdminKey`] (from [`AdminKey::from_bytes`], or [`MasterKey::diversify_input`] over
//!   other diversification data); responses, check values, audit and `to_base64` then work
//!   unchanged.
//! - **`CustomServerDistributed` PINs**, which a custom provider makes; for them
//!   [`cm::server_proposed_pin`] returns `None`.
//!
//! # Provenance
//!
//! - Endpoints and the documented exchange: the MIM CM REST API v1.0 documentation of the three
//!   endpoints; its "Get smart card authentication response" page gives the exchange above.
//! - TDEA: FIPS 46-3 (DES; its tables are written out in `src/primitive/fips46.rs`, and the
//!   engine's constants are derived from them at compile time) and NIST SP 800-67 (the EDE
//!   construction), checked against NIST CAVP files (TECBMMT2, TECBMMT3, TCBCMMT3), SP 800-20
//!   and SP 800-67 known answers, and the RustCrypto `des` 0.8 crate (proptests, fuzzing).
//!   The constant-time design learns from Thomas Pornin's BearSSL `des_ct.c` (S-box outputs as
//!   fixed AND/XOR trees evaluated on whole words, round keys pre-spread) and bcgit/bc-rust's
//!   TDES work (PR #139: the same idea with the constants computed by a `const fn` from the
//!   FIPS tables); no code was copied from either. Status of TDEA from SP 800-131A Rev 2.
//! - AES: RustCrypto `aes` 0.8 (FIPS 197), checked against NIST CAVP AESAVS ECB files.
//! - Diversification: NXP AN10922 (CMAC per NIST SP 800-38B, run as lanes on the key's own
//!   cipher; tests hold it to the RustCrypto `cmac` crate, and to a plain CBC-MAC for AN10922's
//!   two-block padding, on every input length), checked against SP 800-38B's TDEA examples,
//!   AN10922's published examples for every algorithm, AN10957's short-input example, and
//!   whole keys computed by an independent implementation (pycryptodome).
//! - The constant-time check follows Adam Langley's ctgrind and the TIMECOP method (marking
//!   secrets undefined for valgrind memcheck).
//! - Card ID layout: the Windows GUID memory layout, as .NET's `Guid.ToByteArray()` documents.
//! - PIN policy: modelled on the Windows smart card PIN policy (lengths 4 to 127, a rule per
//!   character class).
//!
//! Every vector file in `tests/vectors/` names its source at its top.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// No panicking shortcuts in the library: nothing in the public API may panic on any input.
// Tests may use them, so the lints apply outside `cfg(test)` only.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::string_slice
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod algorithm;
mod card_id;
mod challenge;
pub mod cm;
mod error;
pub mod hazmat;
mod kdf;
mod key;
#[cfg(feature = "serde")]
mod key_serde;
pub mod master;
mod pin;
mod plural;
mod primitive;
pub mod rng;
mod signer;
pub mod unblock;

pub use algorithm::Algorithm;
pub use card_id::CardId;
pub use challenge::{Challenge, Response};
pub use cm::CmError;
pub use error::{KeyError, ParseError};
pub use kdf::DesParity;
pub use key::{AdminKey, KeyAudit, KeyCheckValue, KeyFinding, WeakKeyError};
pub use master::MasterKey;
pub use pin::{
    CharClass, CharRule, GenerateError, Pin, PinPolicy, PinPolicyBuilder, PinViolation,
    PolicyError, UserPinOption,
};
pub use rand_core;
pub use unblock::{UnblockError, UnblockResponse};
pub use zeroize::Zeroizing;

/// The README's example, compiled and run as a doc test so it cannot go stale. It uses
/// `rng::OsRng`, as a user's project would, so it runs with the `getrandom` feature.
#[cfg(all(doctest, feature = "getrandom"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
