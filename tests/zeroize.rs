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

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use cardadmin::{AdminKey, Algorithm};

/// 24 distinct bytes, unlikely to be anywhere else in a freed block by chance.
const PATTERN: [u8; 24] = [
    0xa7, 0x3c, 0x91, 0x5e, 0xd2, 0x08, 0x6b, 0xf4, 0x1d, 0xc9, 0x72, 0x3f, 0xe6, 0x54, 0x8b, 0x20,
    0xb5, 0x4a, 0x97, 0x0e, 0x63, 0xfa, 0x2d, 0xce,
];

static ARMED: AtomicBool = AtomicBool::new(false);
static WATCHED_SIZE: AtomicUsize = AtomicUsize::new(0);
/// Where the 24 watched bytes sit in the block.
static WATCHED_OFFSET: AtomicUsize = AtomicUsize::new(0);
static INSPECTED: AtomicUsize = AtomicUsize::new(0);
static STILL_THERE: AtomicUsize = AtomicUsize::new(0);
/// How many bytes of the whole watched block were not zero when it was freed.
static NONZERO: AtomicUsize = AtomicUsize::new(0);
/// How many copies of the pattern's first 8 bytes the freed block held outside the key bytes.
static COPIES_LEFT: AtomicUsize = AtomicUsize::new(0);
/// Where the key bytes themselves sit (wiped separately, and checked by the first test).
static PATTERN_HEAD_AT: AtomicUsize = AtomicUsize::new(0);
/// The watch is global, so the tests that arm it take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct Inspecting;

unsafe impl GlobalAlloc for Inspecting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let offset = WATCHED_OFFSET.load(SeqCst);
        if ARMED.load(SeqCst)
            && layout.size() == WATCHED_SIZE.load(SeqCst)
            && offset + PATTERN.len() <= layout.size()
        {
            // SAFETY: the block is still allocated and `layout.size()` bytes long, and the 24
            // bytes read are a `[u8; 24]` field (the key bytes, or the control's array), which
            // dropping leaves initialized. Padding elsewhere in the block is never read.
            let bytes = unsafe { std::slice::from_raw_parts(ptr.add(offset), PATTERN.len()) };
            INSPECTED.fetch_add(1, SeqCst);
            let whole = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            NONZERO.store(whole.iter().filter(|&&byte| byte != 0).count(), SeqCst);
            let head_at = PATTERN_HEAD_AT.load(SeqCst);
            let copies = whole
                .windows(8)
                .enumerate()
                .filter(|&(at, window)| at != head_at && window == &PATTERN[..8])
                .count();
            COPIES_LEFT.store(copies, SeqCst);
            if bytes == PATTERN {
                STILL_THERE.fetch_add(1, SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Inspecting = Inspecting;

const KEY_SIZE: usize = std::mem::size_of::<AdminKey>();

/// Frees `block` while armed, watching the 24 bytes at `offset`; returns (blocks inspected,
/// blocks that still held the pattern there).
fn free_and_inspect<T>(block: Box<T>, offset: usize) -> (usize, usize) {
    WATCHED_OFFSET.store(offset, SeqCst);
    INSPECTED.store(0, SeqCst);
    STILL_THERE.store(0, SeqCst);
    ARMED.store(true, SeqCst);
    drop(block);
    ARMED.store(false, SeqCst);
    (INSPECTED.load(SeqCst), STILL_THERE.load(SeqCst))
}

/// Frees `block` (sized `T`, watched at `offset`) and checks the allocator saw it, without
/// the pattern.
fn assert_wiped_when_freed<T>(block: Box<T>, offset: usize, what: &str) {
    WATCHED_SIZE.store(std::mem::size_of::<T>(), SeqCst);
    let (inspected, still_there) = free_and_inspect(block, offset);
    assert!(
        inspected >= 1,
        "the allocator did not see the {what}'s block"
    );
    assert_eq!(
        still_there, 0,
        "the {what}'s secret bytes left in freed memory"
    );
}

/// Where `bytes` (the 24 watched ones) sit inside `value`.
fn offset_in<T>(value: &T, bytes: &[u8]) -> usize {
    let start = value as *const T as usize;
    let at = bytes.as_ptr() as usize;
    assert!(
        at >= start && at + PATTERN.len() <= start + std::mem::size_of::<T>(),
        "the watched bytes are outside the value"
    );
    at - start
}

/// Where the key bytes sit inside a boxed key.
fn key_bytes_offset(key: &AdminKey) -> usize {
    offset_in(key, key.expose_secret())
}

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

/// The APDU layer's buffers carry cryptograms and, for SET MANAGEMENT KEY and GIDS PUT KEY,
/// key bytes: `Command`, `EncodedCommand` and `Reply` promise to wipe them on drop.
#[test]
fn apdu_buffers_are_wiped_when_freed() {
    use cardadmin::apdu::{Command, LengthForm, Reply, StatusWord};

    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let command = Box::new(Command::new(0x00, 0xff, 0xff, 0xff, &PATTERN).unwrap());
    let offset = offset_in(&*command, command.data());
    let encoded = Box::new(command.encode(LengthForm::Short));
    assert_wiped_when_freed(command, offset, "command");

    // Header and Lc, then the data.
    let offset = offset_in(&*encoded, &encoded.as_bytes()[5..]);
    assert_wiped_when_freed(encoded, offset, "encoded command");

    let reply = Box::new(Reply::with_data(&PATTERN, StatusWord::SUCCESS).unwrap());
    let offset = offset_in(&*reply, reply.data());
    assert_wiped_when_freed(reply, offset, "reply");
}

/// The software card's outstanding witness is secret (whoever reads it can answer for the
/// key): `SoftCard` wipes it on drop. Its random generator draws from `PATTERN` without
/// holding a copy, so the only copies in the card's block are the witness's.
#[cfg(feature = "soft-card")]
#[test]
fn a_soft_cards_outstanding_witness_is_wiped_when_freed() {
    use cardadmin::apdu::LengthForm;
    use cardadmin::auth::piv;
    use cardadmin::rand_core::{CryptoRng, Error, RngCore};
    use cardadmin::soft_card::SoftCard;

    struct FromPattern;
    impl RngCore for FromPattern {
        fn next_u32(&mut self) -> u32 {
            unimplemented!("the card draws bytes")
        }
        fn next_u64(&mut self) -> u64 {
            unimplemented!("the card draws bytes")
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for (byte, pattern) in dest.iter_mut().zip(PATTERN.iter().cycle()) {
                *byte = *pattern;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for FromPattern {}

    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    WATCHED_SIZE.store(std::mem::size_of::<SoftCard<FromPattern>>(), SeqCst);
    let key = AdminKey::new(Algorithm::Aes128, &[0x11; 16]).unwrap();
    let mut card = Box::new(SoftCard::new(key.clone(), FromPattern));
    let witness_request = piv::MutualAuth::new(&key);
    let answer = card.process(
        witness_request
            .command()
            .encode(LengthForm::Short)
            .as_bytes(),
    );
    assert_eq!(
        answer.as_bytes()[answer.as_bytes().len() - 2..],
        [0x90, 0x00]
    );
    assert!(
        live_bytes(&*card)
            .windows(8)
            .any(|window| window == &PATTERN[..8]),
        "the live card holds no witness, so this test cannot see it wiped"
    );
    COPIES_LEFT.store(usize::MAX, SeqCst);
    PATTERN_HEAD_AT.store(usize::MAX, SeqCst);
    let (inspected, _) = free_and_inspect(card, 0);
    assert!(inspected >= 1, "the allocator did not see the card's block");
    assert_eq!(
        COPIES_LEFT.load(SeqCst),
        0,
        "the witness left in freed memory"
    );
}

/// Overwrites a large stretch of the stack below the caller with zeros, so that what a key's
/// construction leaves in bytes it never writes (padding, the unused part of a union) is
/// zero rather than an earlier test's leftovers.
#[inline(never)]
fn scrub_stack() {
    let mut area = [0u8; 64 * 1024];
    std::hint::black_box(&mut area);
}

/// The bytes of a live value, padding included (a test's view, to count what it holds).
fn live_bytes<T>(value: &T) -> &[u8] {
    unsafe {
        std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>())
    }
}
