//! `AdminKey` is zeroized on drop: its bytes are gone from memory by the time it is freed; so
//! are the bytes of the APDU buffers (`Command`, `EncodedCommand`, `Reply`) and a software
//! card's outstanding witness.
//!
//! This test binary has its own global allocator, which looks at each freed block of the
//! watched size, while armed, at the place of the secret bytes (the offset of
//! `expose_secret()` in the block, for a key) before handing the block back to the system
//! allocator. A `Box<T>` is dropped in place (running its `Drop`) before it is freed, so the
//! pattern must be gone by then. The control case frees a plain array of the
//! same size with the pattern in it, which the allocator must see, so the test can fail.
//!
//! The library itself forbids unsafe code; a test-only allocator cannot avoid it.

#[path = "support/inspecting_alloc.rs"]
mod inspecting_alloc;

use cardadmin::{AdminKey, Algorithm};
use inspecting_alloc::*;

#[test]
fn admin_key_bytes_are_gone_when_it_is_freed() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    WATCHED_SIZE.store(KEY_SIZE, SeqCst);

    // Control: a plain array of the same size keeps the pattern, and the allocator sees it.
    let mut plain = Box::new([0u8; KEY_SIZE]);
    plain[8..32].copy_from_slice(&PATTERN);
    let (inspected, still_there) = free_and_inspect(plain, 8);
    assert!(
        inspected >= 1,
        "the allocator did not see the control block"
    );
    assert_eq!(
        still_there, 1,
        "the allocator cannot see a pattern it should"
    );

    // The key holds the pattern while it lives, and not once it is dropped.
    let key = Box::new(AdminKey::from_bytes(PATTERN));
    assert_eq!(key.expose_secret(), &PATTERN);
    let offset = key_bytes_offset(&key);
    assert_wiped_when_freed(key, offset, "key");

    // A clone owns its bytes too.
    let original = AdminKey::from_bytes(PATTERN);
    let clone = Box::new(original.clone());
    let offset = key_bytes_offset(&clone);
    assert_wiped_when_freed(clone, offset, "clone");
}

/// The whole key is wiped, not just its bytes: the expanded key schedule (the cipher's round
/// keys, hundreds of bytes derived from the key) and the cached `E_K(0)` block too.
///
/// A live Triple-DES key has hundreds of non-zero bytes; once dropped, only a few may remain:
/// the algorithm and cipher tags. Bytes the compiler never writes (padding, and the part of the
/// cipher enum a Triple-DES schedule does not use) hold whatever was on the stack when the key
/// was built and moved into its box, so the stack is scrubbed first. Without that, this test
/// saw 213 such bytes, and the AES test below saw copies of an earlier key's schedule in them:
/// a limit of wiping in Rust (stack temporaries and moves are not wiped) that the crate docs
/// state.
#[test]
fn the_whole_tdes_key_schedule_included_is_wiped_when_freed() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    WATCHED_SIZE.store(KEY_SIZE, SeqCst);
    scrub_stack();
    let key = Box::new(AdminKey::from_bytes(PATTERN));
    // Fill the cached E_K(0) block too.
    let _ = key.check_value();
    let live = live_bytes(&*key).iter().filter(|&&byte| byte != 0).count();
    // Key bytes, cached block and 48 round keys.
    assert!(
        live >= 256,
        "a live key should have many non-zero bytes ({live} of {KEY_SIZE})"
    );
    let offset = key_bytes_offset(&key);
    let (inspected, _) = free_and_inspect(key, offset);
    assert!(inspected >= 1, "the allocator did not see the key's block");
    let left = NONZERO.load(SeqCst);
    assert!(
        left <= 16,
        "{left} of {KEY_SIZE} bytes of a dropped key were not wiped (live: {live})"
    );
}

/// An AES key's schedule is wiped too. The cipher is a union of the AES-NI and the software
/// schedule, and the bytes of the larger one that the smaller does not use are never written
/// (stack garbage, copied in when the key is boxed), so counting non-zero bytes says nothing
/// here. With AES-NI the schedule holds the key bytes themselves (the first round keys), so
/// the test looks for them: present in the live key, gone from the freed one. Without AES-NI
/// (a bitsliced schedule, where no key byte appears as it is) the first check says so.
#[test]
fn aes_key_schedules_are_wiped_when_freed() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    WATCHED_SIZE.store(KEY_SIZE, SeqCst);
    let pattern_32: Vec<u8> = PATTERN.iter().chain(&PATTERN[..8]).copied().collect();
    for (algorithm, bytes) in [
        (Algorithm::Aes128, &PATTERN[..16]),
        (Algorithm::Aes192, &PATTERN[..]),
        (Algorithm::Aes256, &pattern_32[..]),
    ] {
        scrub_stack();
        let key = Box::new(AdminKey::new(algorithm, bytes).unwrap());
        let _ = key.check_value();
        let offset = key_bytes_offset(&key);
        // Copies of the key's first 8 bytes outside its own byte array: the schedule's.
        let copies = |block: &[u8]| {
            block
                .windows(8)
                .enumerate()
                .filter(|&(at, window)| at != offset && window == &PATTERN[..8])
                .count()
        };
        let live = copies(live_bytes(&*key));
        assert!(
            live >= 1,
            "{algorithm}: the live schedule shows no key bytes (no AES-NI?), so this test cannot \
             see it; it expects the machine CI runs on, which has AES-NI"
        );
        COPIES_LEFT.store(usize::MAX, SeqCst);
        PATTERN_HEAD_AT.store(offset, SeqCst);
        let (inspected, _) = free_and_inspect(key, offset);
        assert!(inspected >= 1, "the allocator did not see the key's block");
        let left = COPIES_LEFT.load(SeqCst);
        assert_eq!(
            left, 0,
            "{algorithm}: {left} of {live} schedule copies of key bytes left"
        );
    }
}
