//! memcheck's client requests, through the C shim `shim.c` (built by `build.rs`).
//!
//! This module holds the only `unsafe` code of ctcheck: the calls into the shim. Each request
//! reads no memory and writes none; it only tells memcheck something (or asks it for a count),
//! and outside valgrind it does nothing at all.

use std::ffi::{c_char, c_uint, c_ulonglong, c_void, CStr};

extern "C" {
    fn ctcheck_make_mem_undefined(addr: *const c_void, len: usize);
    fn ctcheck_make_mem_defined(addr: *const c_void, len: usize);
    fn ctcheck_count_errors() -> c_ulonglong;
    fn ctcheck_running_on_valgrind() -> c_uint;
    fn ctcheck_log(line: *const c_char);
}

/// Marks the bytes of `value` undefined (secret): from here on memcheck reports every
/// conditional branch and every memory address computed from them.
///
/// It takes `&mut` although nothing is written, so that the compiler must assume the bytes
/// changed and read them from memory again: a copy it kept in a register would still carry
/// memcheck's "defined" shadow, and the check would be blind to it.
pub fn make_undefined<T: ?Sized>(value: &mut T) {
    let len = std::mem::size_of_val(value);
    // SAFETY: pointer and length describe `value`'s own bytes, which stay valid for the call;
    // the request changes only memcheck's shadow state, never the bytes.
    unsafe { ctcheck_make_mem_undefined((value as *mut T).cast(), len) }
}

/// Marks the bytes of `value` defined (public) again: done to every output of a checked
/// operation before the harness looks at it, so that the harness's own use of an output
/// (comparing it with the expected value) is not counted against the operation. `&mut` for the
/// same reason as [`make_undefined`].
pub fn make_defined<T: ?Sized>(value: &mut T) {
    let len = std::mem::size_of_val(value);
    // SAFETY: as in `make_undefined`.
    unsafe { ctcheck_make_mem_defined((value as *mut T).cast(), len) }
}

/// How many errors memcheck has reported so far in this process: every occurrence, so a site
/// that reports 384 times counts 384. 0 outside valgrind.
pub fn count_errors() -> u64 {
    // SAFETY: no arguments; the request only reads valgrind's counter.
    unsafe { ctcheck_count_errors() }
}

/// Whether this process runs under valgrind (any tool). Outside it every request above is a
/// no-op, so a count of 0 would prove nothing.
pub fn running_on_valgrind() -> bool {
    // SAFETY: no arguments; the request only asks valgrind whether it is there.
    unsafe { ctcheck_running_on_valgrind() != 0 }
}

/// Writes `line` into valgrind's log, among its reports (nothing outside valgrind).
pub fn log(line: &CStr) {
    // SAFETY: `line` is a valid NUL-terminated string for the duration of the call; the shim
    // passes it to printf-style formatting as a `%s` argument, never as the format.
    unsafe { ctcheck_log(line.as_ptr()) }
}
