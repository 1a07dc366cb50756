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
//! Each step is printed as it happens (`step NAME: ok ...`); a failing step stops the command
//! with exit status 1 and a line naming the step and, when the card refused, its status word.
//! Usage errors exit with status 2.
//!
//! The card logic (commands, answers, cryptograms) is all `cardadmin`'s, which does no I/O;
//! this crate only moves bytes between it, PC/SC and HTTP.

mod cli;
mod enroll;
mod reader;

use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(cli::Usage(message)) => {
            if !message.is_empty() {
                eprintln!("card-admin: {message}");
            }
            eprintln!("{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match cli::run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("card-admin: {err}");
            ExitCode::FAILURE
        }
    }
}
