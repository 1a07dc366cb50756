//! A token that does not answer `C_GetTokenInfo`, in a test process of its own: while it is
//! there, a search for any token that is not found ends in its error.

mod common;

use cardadmin_pkcs11::OpenError;

#[test]
fn a_token_that_does_not_answer_is_blamed_only_when_the_sought_one_is_not_found() {
    let Some(hsm) = common::softhsm() else { return };
    common::new_token(hsm, "answers");
    common::new_token(hsm, "silent");
    common::hide_token_flags(hsm, "silent");
    // Another token that does not answer does not keep this one from being found.
    assert!(hsm.module.find_token("answers").is_ok());
    // The one sought may be the token that did not answer: its error, not "not found".
    for sought in ["silent", "absent"] {
        let err = hsm.module.find_token(sought).unwrap_err();
        assert!(
            matches!(
                &err,
                OpenError::Pkcs11 {
                    step: "listing the slots",
                    ..
                }
            ),
            "{sought}: {err:?}"
        );
    }
}
