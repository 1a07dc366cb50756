//! A global allocator for tests that inspects each freed block of a watched size, while
//! armed, for secret bytes that should have been wiped: shared by the core's and the card
//! crate's `zeroize` tests (each includes it with `#[path]`). The library forbids unsafe code;
//! a test-only allocator cannot avoid it.

#![allow(dead_code)]
// A global allocator cannot be written without unsafe code: the one place in the tests.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
pub use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use cardadmin::AdminKey;

/// 24 distinct bytes, unlikely to be anywhere else in a freed block by chance.
pub const PATTERN: [u8; 24] = [
    0xa7, 0x3c, 0x91, 0x5e, 0xd2, 0x08, 0x6b, 0xf4, 0x1d, 0xc9, 0x72, 0x3f, 0xe6, 0x54, 0x8b, 0x20,
    0xb5, 0x4a, 0x97, 0x0e, 0x63, 0xfa, 0x2d, 0xce,
];

pub static ARMED: AtomicBool = AtomicBool::new(false);
pub static WATCHED_SIZE: AtomicUsize = AtomicUsize::new(0);
/// Where the 24 watched bytes sit in the block.
pub static WATCHED_OFFSET: AtomicUsize = AtomicUsize::new(0);
pub static INSPECTED: AtomicUsize = AtomicUsize::new(0);
pub static STILL_THERE: AtomicUsize = AtomicUsize::new(0);
/// How many bytes of the whole watched block were not zero when it was freed.
pub static NONZERO: AtomicUsize = AtomicUsize::new(0);
/// How many copies of the pattern's first 8 bytes the freed block held outside the key bytes.
pub static COPIES_LEFT: AtomicUsize = AtomicUsize::new(0);
/// Where the key bytes themselves sit (wiped separately, and checked by the first test).
pub static PATTERN_HEAD_AT: AtomicUsize = AtomicUsize::new(0);
/// The watch is global, so the tests that arm it take turns.
pub static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub struct Inspecting;

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
pub static ALLOCATOR: Inspecting = Inspecting;

pub const KEY_SIZE: usize = std::mem::size_of::<AdminKey>();

/// Frees `block` while armed, watching the 24 bytes at `offset`; returns (blocks inspected,
/// blocks that still held the pattern there).
pub fn free_and_inspect<T>(block: Box<T>, offset: usize) -> (usize, usize) {
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
pub fn assert_wiped_when_freed<T>(block: Box<T>, offset: usize, what: &str) {
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
pub fn offset_in<T>(value: &T, bytes: &[u8]) -> usize {
    let start = value as *const T as usize;
    let at = bytes.as_ptr() as usize;
    assert!(
        at >= start && at + PATTERN.len() <= start + std::mem::size_of::<T>(),
        "the watched bytes are outside the value"
    );
    at - start
}

/// Where the key bytes sit inside a boxed key.
pub fn key_bytes_offset(key: &AdminKey) -> usize {
    offset_in(key, key.expose_secret())
}

/// Overwrites a large stretch of the stack below the caller with zeros, so that what a key's
/// construction leaves in bytes it never writes (padding, the unused part of a union) is
/// zero rather than an earlier test's leftovers.
#[inline(never)]
pub fn scrub_stack() {
    let mut area = [0u8; 64 * 1024];
    std::hint::black_box(&mut area);
}

/// The bytes of a live value, padding included (a test's view, to count what it holds).
pub fn live_bytes<T>(value: &T) -> &[u8] {
    unsafe {
        std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>())
    }
}
