//! Builds `shim.c`, the C wrapper around valgrind's client request macros.

fn main() {
    println!("cargo:rerun-if-changed=shim.c");
    if let Err(error) = cc::Build::new()
        .file("shim.c")
        .warnings(true)
        .try_compile("ctcheck_shim")
    {
        panic!(
            "cannot build shim.c: {error}\n\
             It needs <valgrind/memcheck.h>, which Debian and Ubuntu ship in the `valgrind` \
             package itself (`apt-get install -y valgrind`; there is no valgrind-dev)."
        );
    }
}
