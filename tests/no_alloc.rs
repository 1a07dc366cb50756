//! The hot paths do not touch the heap: `respond`, `verify`, `diversify` (in memory and through
//! `CmacSigner`), `generate` and
//! `validate` (and the parsers and `cm::authentication_response` around them).
//!
//! A counting global allocator wraps the system one. It counts only on a thread that has
//! switched counting on, and only between the switch and the read, so allocations by the test
//! harness or by other test threads never reach the count. Everything runs in one `#[test]`
//! anyway. This file needs `unsafe` for `GlobalAlloc` (an `unsafe trait`); the crate itself
//! stays `#![forbid(unsafe_code)]`.

// A counting global allocator cannot be written without unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cardadmin::{cm, AdminKey, Algorithm, CardId, Challenge, CharRule, MasterKey, PinPolicy};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    if counting {
        let _ = CALLS.try_with(|calls| calls.set(calls.get() + 1));
    }
}

// SAFETY: every call is passed to `System` unchanged; counting touches only const-initialised
// thread-locals, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap calls (allocations, reallocations and frees) made on this thread by `work`.
fn heap_calls<T>(work: impl FnOnce() -> T) -> (usize, T) {
    CALLS.with(|calls| calls.set(0));
    COUNTING.with(|counting| counting.set(true));
    let value = work();
    COUNTING.with(|counting| counting.set(false));
    (CALLS.with(Cell::get), value)
}

fn assert_no_heap<T>(what: &str, work: impl FnOnce() -> T) -> T {
    let (calls, value) = heap_calls(work);
    assert_eq!(calls, 0, "{what} made {calls} heap calls");
    value
}

#[test]
fn hot_paths_do_not_allocate() {
    // The counter works: a `String` is one allocation and one free.
    let (calls, ()) = heap_calls(|| drop(String::from("allocates")));
    assert_eq!(calls, 2, "the counting allocator missed a String");

    let card_text = "bc88f13f-83ba-4037-8262-46eba1291c6e";
    let challenge_text = "1hFD+cz/0so=";
    let key_bytes = [0x5a; 24];

    let master = assert_no_heap("AdminKey::from_bytes", || AdminKey::from_bytes(key_bytes));
    let card = assert_no_heap("CardId::parse", || CardId::parse(card_text)).unwrap();
    let challenge = assert_no_heap("Challenge::from_base64", || {
        Challenge::from_base64(challenge_text)
    })
    .unwrap();

    let initial = master;
    let response = assert_no_heap("respond", || initial.respond(&challenge).unwrap());
    assert!(assert_no_heap("verify", || initial.verify(&challenge, &response)));
    assert_no_heap("check_value", || initial.check_value());
    let master = assert_no_heap("MasterKey::new", || {
        MasterKey::new(Algorithm::Tdes, &[0x5a; 24])
    })
    .unwrap();
    // Twice: once filling the key's cached E_K(0), once reading it.
    let card_key = assert_no_heap("diversify (first)", || master.diversify(&card));
    let again = assert_no_heap("diversify (again)", || master.diversify(&card));
    assert_eq!(card_key.expose_secret(), again.expose_secret());
    assert_no_heap("diversify_input", || master.diversify_input(&[1, 2, 3])).unwrap();
    assert_no_heap("master::diversify", || {
        cardadmin::master::diversify(&master, &card)
    })
    .unwrap();
    assert_no_heap("MasterKey::check_value", || master.check_value());
    assert_no_heap("dropping keys", || drop((card_key, again)));

    for diversified in [false, true] {
        let from_text = assert_no_heap("cm::authentication_response", || {
            cm::authentication_response(
                &initial,
                Some(&master),
                card_text,
                challenge_text,
                diversified,
            )
        })
        .unwrap();
        let key = if diversified {
            master.diversify(&card)
        } else {
            initial.clone()
        };
        assert_eq!(from_text, key.respond(&challenge).unwrap());
    }

    let all_four = PinPolicy::builder()
        .min_len(4)
        .max_len(4)
        .digits(CharRule::Require)
        .lowercase(CharRule::Require)
        .uppercase(CharRule::Require)
        .special(CharRule::Require)
        .build()
        .unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    for policy in [PinPolicy::default(), all_four] {
        for _ in 0..100 {
            let pin = assert_no_heap("generate", || policy.generate(&mut rng)).unwrap();
            assert_no_heap("validate", || policy.validate(pin.as_str())).unwrap();
            assert_no_heap("dropping a PIN", || drop(pin));
        }
        // A rejection (its error value) does not allocate either.
        assert_no_heap("validate (rejected)", || policy.validate("1 2 3 4")).unwrap_err();
    }
}
