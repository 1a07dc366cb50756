/*
 * The only C in ctcheck: memcheck's client requests are C macros (inline assembly "magic
 * sequences" in <valgrind/valgrind.h>), so they are wrapped here as plain functions for the
 * Rust harness to call. Outside valgrind each request is a handful of no-op instructions and
 * returns 0, which is how ctcheck_running_on_valgrind() tells the two apart.
 *
 * The header comes from Debian's `valgrind` package (there is no separate -dev package).
 */
#include <stddef.h>
#include <valgrind/memcheck.h>

/* Marks len bytes at addr as undefined: memcheck then reports every conditional branch and
 * every memory address computed from them (the ctgrind / TIMECOP method). */
void ctcheck_make_mem_undefined(const void *addr, size_t len) {
    (void)VALGRIND_MAKE_MEM_UNDEFINED(addr, len);
}

/* Marks len bytes at addr as defined again: done to every output before it is used. */
void ctcheck_make_mem_defined(const void *addr, size_t len) {
    (void)VALGRIND_MAKE_MEM_DEFINED(addr, len);
}

/* The number of errors memcheck has reported so far, every occurrence counted (a site that
 * reports 384 times counts 384), suppressed errors excluded. */
unsigned long long ctcheck_count_errors(void) {
    return (unsigned long long)VALGRIND_COUNT_ERRORS;
}

/* Non-zero under valgrind (any tool), 0 on the real CPU. */
unsigned int ctcheck_running_on_valgrind(void) {
    return (unsigned int)RUNNING_ON_VALGRIND;
}

/* Writes a line into valgrind's own log, between the reports, so a reader of the log can tell
 * which path the reports that follow belong to. */
void ctcheck_log(const char *line) {
    VALGRIND_PRINTF("%s\n", line);
}
