//! `card-admin`: administers a smart card over PC/SC with `cardadmin`'s host flows, and runs
//! the MIM CM enrollment against a server.
//!
//! ```text
//! card-admin readers
//! card-admin [--reader NAME] piv authenticate --algorithm ALG KEY [--single]
//! card-admin [--reader NAME] piv set-management-key --algorithm ALG KEY --new-algorithm ALG NEW_KEY [--touch]
//! card-admin [--reader NAME] piv verify-pin PIN
//! card-admin [--reader NAME] gids authenticate --algorithm ALG KEY
//! card-admin [--reader NAME] gids put-key --algorithm ALG KEY NEW_KEY
//! card-admin [--reader NAME] enroll --server URL --reqid GUID --scid GUID --cardid ID
//!            [--pin-env VAR | --pin-file PATH] [--cert PEM --key PEM] [--cacert PEM]
//! ```
//!
//! `KEY` is `--key-env VAR` (the name of an environment variable holding the key in hex) or
//! `--key-file PATH` (a file holding it); `NEW_KEY` likewise `--new-key-env` / `--new-key-file`,
//! `PIN` `--pin-env` / `--pin-file`. Keys and PINs are never taken from the command line, where
//! every user of the machine can read them (`/proc/PID/cmdline`), and never printed. Without
//! `--reader` the one reader holding a card is used.
//!
//! `--server` is `https://HOST[:PORT]`, or `http://` to a loopback host only (`localhost`,
//! 127.0.0.0/8, `::1`): the server's answers set the card's admin key. Each command that
//! talks to the card holds it in a PC/SC transaction until it ends, then resets it.
//! `--help`/`-h` (after a command word: that command's) and `--version`/`-V` print on
//! standard output and exit 0.
//!
//! Each step is printed as it happens (`step NAME: ok ...`); a failing step stops the command
//! with exit status 1 and a line naming the step and, when the card refused, its status word.
//! Usage errors exit with status 2.
//!
//! The card logic (commands, answers, cryptograms) is all `cardadmin`'s, which does no I/O;
//! this crate only moves bytes between it, PC/SC and HTTP.

mod cli;
mod enroll;
mod flows;
mod mimcm;
mod options;
mod reader;
mod server_url;
mod text;

use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Parsed::Run(command)) => command,
        Ok(cli::Parsed::Help(usage)) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Ok(cli::Parsed::Version) => {
            println!("card-admin {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(cli::Usage(message)) => {
            if !message.is_empty() {
                eprintln!("card-admin: {message}");
            }
            eprintln!("{}", cli::usage(None));
            return ExitCode::from(2);
        }
    };
    match cli::run(*command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("card-admin: {err}");
            ExitCode::FAILURE
        }
    }
}
